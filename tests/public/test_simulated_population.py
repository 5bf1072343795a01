"""The simulated population (`make demo`, the public tests) against the catalogue."""

from __future__ import annotations

from sempervirens import protocol


def test_the_simulated_population_reports_every_environment_field():
    """`make demo` and the public tests send what a real client sends: a field added to
    the catalogue shows in the demo's breakdowns too."""
    from sempervirens.model.ping import ENVIRONMENT
    from sempervirens.simulate.population import generate

    population = generate(200, 10, seed=5)
    for installation in population:
        assert set(installation.environment) == {f.name for f in ENVIRONMENT}
        protocol.validate_ping("usage", {"client_id": installation.client_id,
                                         "project_version": "1.0",
                                         "environment": installation.environment})
    assert {i.environment["scheduler"] for i in population} > {"none", "slurm"}
