"""What a deployment tells its users in public: the kinds of notice it posts."""

NOTICE_KINDS = ("policy-change", "security", "legal-request", "service")
