"""The dedicated media gate process (``consentry gate``): nginx's ``auth_request`` target.

``mirror`` keeps an in-process copy of the Redis refusal index fresh; ``server`` answers
``GET /gate`` from that copy over HTTP/1.1 keep-alive with no framework and no per-request I/O.
"""
