"""Accounts: users, sign-in sessions, tokens, roles."""
