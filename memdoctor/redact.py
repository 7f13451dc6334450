"""Redact what looks like a secret in a command line before memdoctor writes it anywhere.

Command lines of production services carry credentials: `--password X`, `TOKEN=...`,
`postgres://user:pass@host/db`, `-H "Authorization: Bearer ..."`. Traces, baselines, gate
summaries (GitHub step summaries are readable by everyone with access to the repository) and
JSON outputs all name the command, so every one of them goes through this module: one rule set,
used everywhere (the trace header writer, the gate's title and baseline, run/watch outputs).

What is replaced by REDACTED:
- the value of an option whose name says secret (`--password X`, `--api-key=X`, `-p` is NOT
  guessed: a short flag says nothing about its meaning);
- the value of an assignment whose name says secret (`DB_PASSWORD=X`, `token=X`);
- the password of a URL (`scheme://user:PASSWORD@host`);
- the word after `Bearer`/`Basic` (HTTP authorization);
- tokens with the prefix of a well-known credential format (GitHub, Slack, AWS, OpenAI, JWT).
Names stay: a reader still sees which program ran with which options.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "***"

# Words of an option or variable name (split at -, _, . and camelCase) that say its value is a credential.
SECRET_WORDS = frozenset({"password", "passwd", "passphrase", "pass", "pwd", "secret", "secrets", "token", "tokens",
                          "apikey", "auth", "authorization", "credential", "credentials", "creds", "cookie",
                          "dsn", "signature", "privatekey", "accesskey", "secretkey"})
# "key" is a secret only after one of these ("--api-key", "AWS_SECRET_ACCESS_KEY"), not in "--keys" or "--key-size".
KEY_QUALIFIERS = frozenset({"api", "access", "private", "secret", "signing", "encryption", "master", "client"})
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
_OPTION = re.compile(r"^(--?[A-Za-z0-9][A-Za-z0-9_.-]*)(=(.*))?$", re.DOTALL)
_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$", re.DOTALL)
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)([^@\s/]*)(@)")
_AUTH_SCHEME = re.compile(r"\b(Bearer|Basic|Token)(\s+)(\S+)", re.IGNORECASE)
# Credential formats recognisable by themselves (prefixes documented by their issuers).
_KNOWN_TOKEN = re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}"
                          r"|AKIA[0-9A-Z]{16}|sk-[A-Za-z0-9_-]{20,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"
                          r"\.[A-Za-z0-9_-]+)")


def _secret_name(name: str) -> bool:
    words = [w.lower() for w in _WORD_SPLIT.split(name) if w]
    if any(w in SECRET_WORDS for w in words):
        return True
    return any(w == "key" and i and words[i - 1] in KEY_QUALIFIERS for i, w in enumerate(words))


def redact_text(text: str) -> str:
    """URL passwords, authorization schemes and known token formats inside one string."""
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + m.group(3), text)
    text = _AUTH_SCHEME.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    return _KNOWN_TOKEN.sub(REDACTED, text)


def _redact_word(word: str) -> tuple[str, bool]:
    """The word redacted, and whether the NEXT word is the value of a secret option."""
    option = _OPTION.match(word)
    if option is not None:
        name, has_value = option.group(1), option.group(2) is not None
        if _secret_name(name):
            return (f"{name}={REDACTED}" if has_value else name), not has_value
        return redact_text(word), False
    assign = _ASSIGN.match(word)
    if assign is not None and _secret_name(assign.group(1)):
        return f"{assign.group(1)}={REDACTED}", False
    # A header given as one word: "Authorization: Bearer X", "X-Api-Key: X".
    header, sep, _value = word.partition(":")
    if sep and " " not in header and _secret_name(header) and "://" not in word:
        return f"{header}: {REDACTED}", False
    return redact_text(word), False


def redact_argv(argv: Iterable[str]) -> list[str]:
    """A command line (list of words) with the values that look like secrets replaced by ***."""
    out: list[str] = []
    value_next = False
    for word in argv:
        word = str(word)
        if value_next and not word.startswith("-"):
            out.append(REDACTED)
            value_next = False
            continue
        redacted, value_next = _redact_word(word)
        out.append(redacted)
    return out


def redact_command(text: str) -> str:
    """A command line as one string (words separated by spaces), redacted word by word."""
    return " ".join(redact_argv(text.split(" ")))


def redact_header(header: dict) -> dict:
    """A trace header (or any metadata dict) with its command line redacted."""
    out = dict(header)
    for key in ("cmdline", "command"):
        value = out.get(key)
        if isinstance(value, list):
            out[key] = redact_argv(value)
        elif isinstance(value, str):
            out[key] = redact_command(value)
    return out
