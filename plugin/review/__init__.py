"""The moderators' side: the review queue, human decisions, DSA statements of reasons,
legal hold and retention, NCII takedown intake, and the media gate's refusal index.

Pure domain code over narrow stores (``plugin.storage.review_store``), the bank store, the
action store and Redis; ``plugin.web`` (review, moderator_auth, intake, gate, dashboard) is a
thin HTTP shell over it.
"""
