"""Maintainers, admins and the rights of users.

Tokens and roles (tokens.py), the audit log of private reads (audit.py), deletion
with tombstones (deletion.py, tombstones.py), export (export.py), project
registration (projects.py), the private and transparency API (private_api.py), the
policy's versions, public notices and legal-request counts (notices.py) and the
`sempervirens admin` commands (_commands.py, _notice_commands.py).  See docs/privacy.md and
docs/operations.md.  Nothing is imported here, so the store's migrations can
import `.tables` alone.
"""
