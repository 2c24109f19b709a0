"""The accounts services, one module per idea (import what you use from its module):

- ``signin``: registration and password sign-in (who you are).
- ``sessions``: sign-in sessions as API token families: open, issue, rotate, end, and who
  is asking behind an access token.
- ``web_sessions``: the browser's cookie sessions for the server-rendered pages.
- ``passwords``: the password policy, changing one's password (and name) and resetting it
  through a mailed link.
- ``links``: mailed single-use links (issue, redeem once).
- ``verification``: confirming an email address through such a link.
- ``users``: the admin's user management.
- ``bootstrap``: creating the first admin and the demo users.
"""
