"""Certificates: issued once when a course is completed, verifiable by anyone, revocable."""
