"""Response headers of every 202 of /submit: what the client learns of the privacy policy
without any extra call (docs/protocol.md, "Response headers").

    Sempervirens-Policy-Version   the current version of the privacy policy, an integer >= 1
    Sempervirens-Policy-Material  the latest version that was a material change (1: the seed)
    Sempervirens-Security-Notice  the id of the latest security notice; absent if none

The client prints {endpoint}/privacy/policy/v{N}/changes for a material change and
{endpoint}/notices/{id} for a security notice.
"""

POLICY_VERSION = "Sempervirens-Policy-Version"
POLICY_MATERIAL = "Sempervirens-Policy-Material"
SECURITY_NOTICE = "Sempervirens-Security-Notice"

__all__ = ["POLICY_MATERIAL", "POLICY_VERSION", "SECURITY_NOTICE"]
