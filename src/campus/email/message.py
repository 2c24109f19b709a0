from __future__ import annotations

import email.message
import email.utils
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EmailMessage:
    """One outgoing message: a plain-text body and, usually, an HTML alternative."""

    to: str
    subject: str
    text: str
    html: str | None = None

    def to_mime(self, sender: str) -> email.message.EmailMessage:
        mime = email.message.EmailMessage()
        mime["From"] = sender
        mime["To"] = self.to
        mime["Subject"] = self.subject
        mime["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
        domain = email.utils.parseaddr(sender)[1].rpartition("@")[2] or None
        mime["Message-ID"] = email.utils.make_msgid(domain=domain)
        mime.set_content(self.text)
        if self.html is not None:
            mime.add_alternative(self.html, subtype="html")
        return mime
