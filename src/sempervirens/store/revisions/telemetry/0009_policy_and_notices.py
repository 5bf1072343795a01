"""The privacy policy as versioned documents, public notices, legal requests per quarter.

Revision 0009 of the telemetry store, after 0008.

- policy_versions: each published version of the deployment's privacy policy, kept
  for ever; version 1, the seed policy below, is written here with the store;
- notices: public notices (policy changes, security, legal requests, service), never
  edited (a correction is a new notice naming the one it corrects);
- legal_requests: per quarter, the legal requests received and how they were answered,
  counts only, and a range for those that may not be disclosed.
"""
# Frozen once shipped: never edit it, never import the tables of today's code
# (store/schema.py, aggregate/tables.py, admin/tables.py); spell the DDL out.

import hashlib
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

KINDS = ("policy-change", "security", "legal-request", "service")


def _string(length=None):
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _text():
    return sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def _id():
    return sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    policy_versions = op.create_table(
        "policy_versions",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", _text(), nullable=False),
        sa.Column("material", sa.Boolean, nullable=False),
        sa.Column("text", _text(), nullable=False),
        sa.Column("sha256", _string(64), nullable=False),
        sa.CheckConstraint("version >= 1", name="policy_versions_from_one"),
    )
    op.create_table(
        "notices",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("kind", _string(20),
                  sa.CheckConstraint(f"kind IN ({', '.join(repr(k) for k in KINDS)})"),
                  nullable=False),
        sa.Column("title", _string(200), nullable=False),
        sa.Column("body", _text(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("corrects", _id(), sa.ForeignKey("notices.id")),
    )
    op.create_table(
        "legal_requests",
        sa.Column("quarter", _string(6), primary_key=True),  # 2026Q4
        sa.Column("received", sa.Integer, nullable=False),
        sa.Column("complied_in_part", sa.Integer, nullable=False),
        sa.Column("complied_in_full", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.Column("undisclosed_low", sa.Integer),  # NULL: no undisclosed range to report
        sa.Column("undisclosed_high", sa.Integer),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.bulk_insert(policy_versions, [{
        "version": 1, "published_at": datetime.now(timezone.utc),
        "summary": "The seed privacy policy of Sempervirens.", "material": True,
        "text": SEED_POLICY, "sha256": hashlib.sha256(SEED_POLICY.encode()).hexdigest()}])


def downgrade() -> None:
    raise NotImplementedError("stores are only migrated forward (docs/operations.md)")


# The seed policy (the project's privacy policy, forked from Mozilla's), version 1.
SEED_POLICY = """Privacy Policy
==============

**DRAFT**

Your personal privacy is an important factor that the Sempervirens project and Numfocus 
(our legal entity) considers in the development of each of our products and services. 
We are committed to NOT storing ANY personal information through Sempervirens other 
than IP addresses. We are committed to being transparent and open. This Privacy Policy 
explains generically how we receive information from you, and what we do with that 
information once we have it.

What do we mean by "personal information?"
------------------------------------------

The phrase "personal information" means information which identifies you, such as your 
name, email address, twitter account names, or other user names. Any information that 
falls outside of this is "non-personal information."

Combining non-personal information with personal information we consider to be 
"personal information." Such combinations will not be publically shared. Removing all 
personal information creates a data set that is deemed "non-personal information" 
and may be collected.

In some jurisdictions around the world, IP addresses and other similar pieces of
information are considered personal information, though they are not "uniquely 
identifying personal information." In an effort apply as broadly as possible, 
Sempervirens considers IP addresses and other "non-uniquely identifying personal 
information" to be personal information. 

IP addresses are the only form of personal information that Sempervirens will collect
about you. IP addresses will be stored as part of a standard web log and non-public 
dataset. IP addresses will never be shared or displayed publicly.

Aggregating and anonymizing IP addresses creates a data set that is deemed 
non-personal information.


How do we learn information about you?
---------------------------------------

We learn non-personal information about you when:

* you give it to us directly (e.g., when you choose to send us crash reports);
* we collect it automatically through our products and services (e.g., the Sempervirens 
  code); or
* when you have opted-out of sending other non-personal information, we record that an 
  opt-out event has occurred.


What do we do with your information once we have it?
----------------------------------------------------

When you give us information, we will use it in the ways for which you've given us 
permission. Generally, we use your information to help us provide and improve our 
products and services to you and for you. This includes aggregations of the information 
to display data such as global usage statistics.

Personal information that you have provided (IP addresses) are aggregated and anonymized
by Sempervirens privately. This is in order to answer questions such as, but not 
limited to, the following:

* How many users do we have at .edu domains?
* How many users does a project have at a given institution?
* Is a project reporting many (100,000 or more) distinct users all from a single 
  IP address?

What are usage statistics?
--------------------------

Usage statistics or "telemetry" is a feature of Sempervirens that sends to Numfocus 
usage, performance, and responsiveness statistics about user interface features, 
application program interfaces (APIs), application binary interfaces (ABIs), memory, 
hardware configuration. All telemetry data includes a universally unique identifier 
(UUID) that is randomly generated on your computer (the client). The UUID is created
according to the UUID version 4 specification, see 
[RFC 4122 section 4.4](https://tools.ietf.org/html/rfc4122#section-4.4). The UUID allows
Sempervirens to distinguish between users, while not being personally identifiable to
the Sempervirens project or its downstream consumers.

Your IP address is also gathered as a part of a standard web server log and 
as part of a private, Sempervirens-only data set. However, your 
IP address is not included in the usage statistics that are aggregated and shared
publicly. The associations between IP addresses and UUIDs are stored privately
on Sempervirens infrastructure and is never shared publically.
IP addresses and any other personal information are never part of the telemetry data.

Usage statistics are transmitted using standard and open encryption technologies 
(e.g. TLS) and help us improve future versions of our products are services. 

Once sent to Numfocus, usage statistics are aggregated and made available to the public.

When do we share your information with others?
----------------------------------------------

When we are fulfilling our mission of being open, we will share releases of non-personal 
information to make our products better and foster an open source software development 
community. We will only share non-personal information and try to disclose it in a way 
that minimizes the risk of you being identified.

We will also share information when the law requires it. We follow the law whenever we 
receive requests about you from a government or related to a lawsuit. We'll notify you 
when we're asked to hand over your information in this way, unless we're 
legally prohibited from doing so. Nothing in  this policy is intended to limit any legal 
defenses or objections that you may have to a third party's request to disclose your 
information.

When we believe it is necessary to prevent harm to you or someone else we may release 
your non-personal information. We will only share your information in this way if we 
have a good faith belief that it is reasonably necessary to protect the rights, 
property or safety of you, our other users, Sempervirens, Numfocus or the public.

How do we store and protect your information?
-------------------------------------------------

We are committed to never storing uniquely identifying personal information. 

We will store your IP address, which is considered non-uniquely identifying personal 
information. Non-uniquely identifying personal information will never be publicly 
shared. Access to such data will be granted only to approved Sempervirens maintainers
on an as-needed basis.

We are committed to protecting your non-personal information once we have it. 
We implement physical, business, and technical security measures as needed. 
Despite our efforts, if we learn of a security breach, we'll notify you so that you 
can take appropriate protective steps.

How will we notify you?
------------------------

Since no uniquely identifying personal information is ever stored, no direct contact 
with you will ever be initiated by us. Notifications will be issued via public 
broadcasts such as via twitter, our website, or our mailing list.

What else should you know?
---------------------------

We are a global organization and our computers are in several different places around 
the world. We also use service providers whose computers may also be in various 
countries. This means that your information might end  up on one of those computers 
in another country, and that country may have a different level of data protection 
regulation than yours. By giving us information, you consent to this kind of transfer 
of your information. No matter what country your information is in, we comply with 
applicable law and will also abide by the commitments we make in this privacy policy.

If you are under 13, we do not want your information, and you must not 
provide it to us. If you are a parent and believe that your child who is under 13 
has provided us with personal or non-personal information, please contact us to have 
the data removed. 

What if we change this privacy policy or any of our privacy notices?
----------------------------------------------------------------------

We may need to change this policy and our notices. The updates will be posted online 
via the broadcast notification channels listed above.

Contact Us
----------

If you want to make a correction to your information, or you have any questions about 
our privacy policies, please get in touch with:

Numfocus
....


Document History
------------------
This document was forked from the Mozilla privacy policy: https://www.mozilla.org/en-US/privacy/

"""
