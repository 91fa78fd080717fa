"""Bounces and complaints as the common mail servers write them, made for the tests.

Each function returns the raw mail a server sends back to a return path (`to`) about a
letter sent to `recipient` under `message_id`. They follow the layouts these servers
produce (headers and wording trimmed to what matters), not any one real mail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["permanent", "temporary", "complaint", "other"]


def _returned(recipient: str, message_id: str) -> str:
    """The headers of the letter as servers quote it back."""
    return (
        "From: Mes premiers mois avec l'Urssaf <premiers-mois@urssaf.example>\r\n"
        f"To: {recipient}\r\n"
        "Subject: Bienvenue\r\n"
        f"Message-ID: {message_id}\r\n"
        "Content-Language: fr\r\n"
    )


def postfix_dsn_hard(to: str, recipient: str, message_id: str) -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n"
        f"To: {to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"\r\n'
        "\r\n"
        "--B1\r\n"
        "Content-Description: Notification\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "This is the mail system at host mx.example.org.\r\n"
        "\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients.\r\n"
        "\r\n"
        "                   The mail system\r\n"
        "\r\n"
        f"<{recipient}>: host mail.example.fr[192.0.2.7] said: 550 5.1.1\r\n"
        f"    <{recipient}>: Recipient address rejected: User unknown\r\n"
        "\r\n"
        "--B1\r\n"
        "Content-Description: Delivery report\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n"
        "Arrival-Date: Mon,  2 Mar 2026 09:00:01 +0100 (CET)\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        "Remote-MTA: dns; mail.example.fr\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address\r\n"
        "    rejected: User unknown\r\n"
        "\r\n"
        "--B1\r\n"
        "Content-Description: Undelivered Message Headers\r\n"
        "Content-Type: text/rfc822-headers\r\n"
        "\r\n" + _returned(recipient, message_id) + "\r\n"
        "--B1--\r\n"
    ).encode()


def postfix_dsn_delayed(to: str, recipient: str, message_id: str) -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n"
        f"To: {to}\r\n"
        "Subject: Delayed Mail (still being retried)\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B2"\r\n'
        "\r\n"
        "--B2\r\n"
        "Content-Description: Notification\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "This is the mail system at host mx.example.org.\r\n"
        "\r\n"
        "####################################################################\r\n"
        "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\r\n"
        "####################################################################\r\n"
        "\r\n"
        f"<{recipient}>: host mail.example.fr[192.0.2.7] said: 452 4.2.2\r\n"
        "    Mailbox full\r\n"
        "\r\n"
        "--B2\r\n"
        "Content-Description: Delivery report\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        "Action: delayed\r\n"
        "Status: 4.2.2\r\n"
        "Diagnostic-Code: smtp; 452 4.2.2 Mailbox full\r\n"
        "Will-Retry-Until: Sat,  7 Mar 2026 09:00:01 +0100 (CET)\r\n"
        "\r\n"
        "--B2\r\n"
        "Content-Type: text/rfc822-headers\r\n"
        "\r\n" + _returned(recipient, message_id) + "\r\n"
        "--B2--\r\n"
    ).encode()


def exim_hard(to: str, recipient: str, message_id: str) -> bytes:
    return (
        "From: Mail Delivery System <Mailer-Daemon@exim.example.net>\r\n"
        f"To: {to}\r\n"
        "Subject: Mail delivery failed: returning message to sender\r\n"
        f"X-Failed-Recipients: {recipient}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "This message was created automatically by mail delivery software.\r\n"
        "\r\n"
        "A message that you sent could not be delivered to one or more of its\r\n"
        "recipients. This is a permanent error. The following address(es) failed:\r\n"
        "\r\n"
        f"  {recipient}\r\n"
        f"    SMTP error from remote mail server after RCPT TO:<{recipient}>:\r\n"
        "    host mail.example.fr [192.0.2.7]: 550 No such user here\r\n"
        "\r\n"
        "------ This is a copy of the message, including all the headers. ------\r\n"
        "\r\n" + _returned(recipient, message_id) + "\r\n"
        "Bonjour Jeanne,\r\n"
    ).encode()


def sendmail_dsn_hard(to: str, recipient: str, message_id: str) -> bytes:
    return (
        "From: Mail Delivery Subsystem <MAILER-DAEMON@sendmail.example.com>\r\n"
        f"To: {to}\r\n"
        "Subject: Returned mail: see transcript for details\r\n"
        "Auto-Submitted: auto-generated (failure)\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="S3"\r\n'
        "\r\n"
        "--S3\r\n"
        "\r\n"
        "The original message was received at Mon, 2 Mar 2026 09:00:01 +0100\r\n"
        "from localhost [127.0.0.1]\r\n"
        "\r\n"
        "   ----- The following addresses had permanent fatal errors -----\r\n"
        f"<{recipient}>\r\n"
        "    (reason: 550 5.1.1 User unknown)\r\n"
        "\r\n"
        "--S3\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; sendmail.example.com\r\n"
        "\r\n"
        f"Final-Recipient: RFC822; {recipient}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        "Remote-MTA: DNS; mail.example.fr\r\n"
        "Diagnostic-Code: SMTP; 550 5.1.1 User unknown\r\n"
        "\r\n"
        "--S3\r\n"
        "Content-Type: message/rfc822\r\n"
        "\r\n" + _returned(recipient, message_id) + "\r\n"
        "Bonjour Jeanne,\r\n"
        "--S3--\r\n"
    ).encode()


def office365_ndr(to: str, recipient: str, message_id: str) -> bytes:
    return (
        "From: Microsoft Outlook <postmaster@contoso.onmicrosoft.com>\r\n"
        f"To: {to}\r\n"
        "Subject: Undeliverable: Bienvenue\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="O4"\r\n'
        "\r\n"
        "--O4\r\n"
        'Content-Type: multipart/alternative; boundary="O4a"\r\n'
        "\r\n"
        "--O4a\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "Your message to the recipient couldn't be delivered.\r\n"
        "\r\n"
        "The email address wasn't found at the destination domain.\r\n"
        "\r\n"
        "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound;\r\n"
        "Recipient not found by SMTP address lookup'\r\n"
        "--O4a--\r\n"
        "\r\n"
        "--O4\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns;AM0PR01MB1234.eurprd01.prod.outlook.com\r\n"
        "Received-From-MTA: dns;mail.example.org\r\n"
        "\r\n"
        f"Final-Recipient: rfc822;{recipient}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.10\r\n"
        "Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient\r\n"
        " not found by SMTP address lookup\r\n"
        "\r\n"
        "--O4\r\n"
        "Content-Type: text/rfc822-headers\r\n"
        "\r\n" + _returned(recipient, message_id) + "\r\n"
        "--O4--\r\n"
    ).encode()


def exchange_legacy(to: str, recipient: str, message_id: str) -> bytes:
    """Exchange 5.5/2000 without a DSN: the text only."""
    del message_id
    return (
        "From: System Administrator <postmaster@exchange.example.com>\r\n"
        f"To: {to}\r\n"
        "Subject: Undeliverable: Bienvenue\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "Your message\r\n"
        "\r\n"
        "  Subject: Bienvenue\r\n"
        "  Sent:    Mon, 2 Mar 2026 09:00:01 +0100\r\n"
        "\r\n"
        "did not reach the following recipient(s):\r\n"
        "\r\n"
        f"{recipient} on Mon, 2 Mar 2026 09:00:05 +0100\r\n"
        "    The recipient name is not recognized\r\n"
        "\tMSEXCH:IMS:Example:Paris:EXCH01 0 (000C05A6) Unknown Recipient\r\n"
    ).encode()


def gmail_hard(to: str, recipient: str, message_id: str) -> bytes:
    return (
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\n"
        f"To: {to}\r\n"
        "Subject: Delivery Status Notification (Failure)\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; boundary="G5"; report-type=delivery-status\r\n'
        "\r\n"
        "--G5\r\n"
        "Content-Type: text/plain; charset=UTF-8\r\n"
        "\r\n"
        "** Address not found **\r\n"
        "\r\n"
        f"Your message wasn't delivered to {recipient} because the address couldn't\r\n"
        "be found, or is unable to receive mail.\r\n"
        "\r\n"
        "The response from the remote server was:\r\n"
        "550 5.1.1 The email account that you tried to reach does not exist.\r\n"
        "\r\n"
        "--G5\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; googlemail.com\r\n"
        "Received-From-MTA: dns; premiers-mois.example\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        "Remote-MTA: dns; gmail-smtp-in.l.google.com. (2a00:1450:400c:c0b::1b)\r\n"
        "Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does\r\n"
        "    not exist. Please try double-checking the recipient's email address for\r\n"
        "    typos or unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser\r\n"
        "Last-Attempt-Date: Mon, 02 Mar 2026 00:00:06 -0800 (PST)\r\n"
        "\r\n"
        "--G5\r\n"
        "Content-Type: message/rfc822\r\n"
        "\r\n" + _returned(recipient, message_id) + "\r\n"
        "Bonjour Jeanne,\r\n"
        "--G5--\r\n"
    ).encode()


def qmail_hard(to: str, recipient: str, message_id: str) -> bytes:
    return (
        "From: MAILER-DAEMON@qmail.example.net\r\n"
        f"To: {to}\r\n"
        "Subject: failure notice\r\n"
        "\r\n"
        "Hi. This is the qmail-send program at qmail.example.net.\r\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\r\n"
        "\r\n"
        f"<{recipient}>:\r\n"
        "192.0.2.7 does not like recipient.\r\n"
        "Remote host said: 550 5.1.1 Mailbox does not exist\r\n"
        "Giving up on 192.0.2.7.\r\n"
        "\r\n"
        "--- Below this line is a copy of the message.\r\n"
        "\r\n" + _returned(recipient, message_id) + "\r\n"
        "Bonjour Jeanne,\r\n"
    ).encode()


def arf_complaint(to: str, recipient: str, message_id: str) -> bytes:
    """A feedback-loop report (RFC 5965), as Yahoo's or Microsoft's (JMRP) loops send."""
    return (
        "From: Feedback Loop <feedbackloop@fbl.example.com>\r\n"
        f"To: {to}\r\n"
        "Subject: FW: Bienvenue\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="A6"\r\n'
        "\r\n"
        "--A6\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "This is an email abuse report for an email message received from IP\r\n"
        "192.0.2.1 on Mon, 02 Mar 2026 09:00:06 +0100.\r\n"
        "\r\n"
        "--A6\r\n"
        "Content-Type: message/feedback-report\r\n"
        "\r\n"
        "Feedback-Type: abuse\r\n"
        "User-Agent: ExampleFBL/1.0\r\n"
        "Version: 1\r\n"
        "Original-Mail-From: <" + to + ">\r\n"
        f"Original-Rcpt-To: <{recipient}>\r\n"
        "Arrival-Date: Mon, 02 Mar 2026 09:00:06 +0100\r\n"
        "Source-IP: 192.0.2.1\r\n"
        "\r\n"
        "--A6\r\n"
        "Content-Type: message/rfc822\r\n"
        "\r\n" + _returned(recipient, message_id) + "\r\n"
        "Bonjour Jeanne,\r\n"
        "--A6--\r\n"
    ).encode()


def arf_not_spam(to: str, recipient: str, message_id: str) -> bytes:
    return arf_complaint(to, recipient, message_id).replace(
        b"Feedback-Type: abuse", b"Feedback-Type: not-spam"
    )


def vacation_reply(to: str, recipient: str, message_id: str) -> bytes:
    """An automatic reply that reached the return path: not a bounce."""
    return (
        f"From: Jeanne Martin <{recipient}>\r\n"
        f"To: {to}\r\n"
        "Subject: Absence du bureau\r\n"
        f"In-Reply-To: {message_id}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Bonjour, je suis absente jusqu'au 16 mars.\r\n"
    ).encode()


Sample = Callable[[str, str, str], bytes]


@dataclass(frozen=True)
class Case:
    server: str
    make: Sample
    verdict: Verdict
    reason_has: str


CASES = [
    Case("Postfix, DSN, unknown user", postfix_dsn_hard, "permanent", "5.1.1"),
    Case("Postfix, DSN, mailbox full (delayed)", postfix_dsn_delayed, "temporary", "4.2.2"),
    Case("Exim, X-Failed-Recipients", exim_hard, "permanent", "550 No such user here"),
    Case("Sendmail, DSN", sendmail_dsn_hard, "permanent", "User unknown"),
    Case("Exchange Online / Office 365", office365_ndr, "permanent", "RecipientNotFound"),
    Case("Exchange 2000, text only", exchange_legacy, "permanent", "refusée"),
    Case("Gmail", gmail_hard, "permanent", "does not exist"),
    Case("qmail, QSBMF", qmail_hard, "permanent", "550 5.1.1 Mailbox does not exist"),
    Case("feedback loop, ARF abuse", arf_complaint, "complaint", "indésirable"),
    Case("feedback loop, ARF not-spam", arf_not_spam, "other", ""),
    Case("an automatic reply", vacation_reply, "other", ""),
]
