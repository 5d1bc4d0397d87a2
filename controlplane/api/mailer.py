"""Outgoing email over SMTP (password resets); smtplib errors become ComponentError here."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from controlplane.errors import TemporaryError


class SmtpMailer:
    """Send plain-text mail through one SMTP server."""

    def __init__(self, host: str, port: int, sender: str, *, username: str | None = None,
                 password: str | None = None, starttls: bool = False, timeout: float = 10.0) -> None:
        self.host, self.port, self.sender = host, port, sender
        self._username, self._password, self._starttls, self._timeout = username, password, starttls, timeout

    def send(self, to: str, subject: str, body: str) -> None:
        """Deliver one message."""
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message.set_content(body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self._timeout) as smtp:
                if self._starttls:
                    smtp.starttls()
                if self._username and self._password:
                    smtp.login(self._username, self._password)
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise TemporaryError(f"cannot send mail via {self.host}:{self.port}: {exc}", component="smtp") from exc
