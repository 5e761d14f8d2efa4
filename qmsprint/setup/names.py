"""Client column names: normalization and the names each canonical column goes by.

Names are compared after :func:`normalize` (lower case, words split on punctuation and camel
case, units such as ``(s)`` or ``%`` taken off). Synonyms are listed most specific first; a
synonym written ``=word`` only matches a name that is exactly that word (``Date`` is a timestamp,
``Hire date`` is not).
"""

from __future__ import annotations

import re

from qmsprint import metrics as metric_registry

SYNONYMS: dict[str, tuple[str, ...]] = {
    "interaction_id": ("interaction id", "contact id", "call id", "conversation id", "ticket id", "case id",
                       "chat id", "session id", "transaction id", "record id", "interaction", "ticket", "=id"),
    "timestamp": ("timestamp", "date time", "datetime", "interaction date", "contact date", "call date",
                  "start time", "call start", "created at", "created", "contact time", "call time", "=date", "=time",
                  "=start", "=when"),
    "customer_id": ("customer id", "customer", "client id", "caller id", "account id", "customer number",
                    "account number", "member id", "caller", "=account", "=client", "=ani"),
    "agent_id": ("agent id", "agent", "agent name", "employee id", "employee", "advisor", "adviser", "representative",
                 "rep id", "=rep", "operator", "associate", "csr", "user id", "login id", "staff id", "handled by"),
    "team": ("team", "team name", "team leader", "team lead", "supervisor", "squad", "pod", "=tl"),
    "site": ("site", "location", "contact center", "contact centre", "centre", "center", "office", "vendor", "=bpo",
             "city"),
    "channel": ("channel", "media type", "media", "medium", "contact type", "channel type", "interaction type"),
    "contact_reason": ("contact reason", "reason", "call reason", "reason code", "contact driver", "driver", "intent",
                       "topic", "category", "subject", "disposition", "wrap up", "wrap code", "queue", "skill"),
    "arm": ("arm", "program", "programme", "qa program", "pilot group", "test group", "experiment group", "variant",
            "condition", "cohort", "treatment", "=group", "=pilot"),
    "qa_score": ("qa score", "quality score", "qa", "quality", "qa result", "evaluation score", "eval score",
                 "audit score", "compliance score", "checklist score", "monitoring score"),
    "behavior_score": ("behavior score", "behaviour score", "behavior", "behaviour", "behavioral score",
                       "behavioural score", "coaching score"),
    "auto_score": ("auto score", "auto qa score", "automated score", "automated qa", "auto qa", "analytics score",
                   "speech analytics score", "ai score", "full coverage score"),
    "tenure_months": ("tenure months", "tenure", "months tenure", "months of service", "months in role",
                      "seniority months", "seniority"),
    "csat": ("csat", "csat score", "customer satisfaction", "satisfaction", "survey score", "sat score",
             "satisfaction score", "osat", "csat rating", "=rating", "=survey"),
    "nps": ("nps", "nps score", "likelihood to recommend", "likely to recommend", "ltr", "net promoter score",
            "net promoter", "recommend", "promoter score"),
    "fcr": ("fcr", "first contact resolution", "first call resolution", "resolved first contact", "resolved",
            "issue resolved", "resolved first time", "one touch resolution", "resolution"),
    "handle_time": ("handle time", "aht", "handling time", "average handle time", "call duration", "duration",
                    "talk time", "=ht"),
}  # fmt: skip

UNIT_WORDS = {
    "s": "seconds", "sec": "seconds", "secs": "seconds", "second": "seconds", "seconds": "seconds",
    "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
    "h": "hours", "hr": "hours", "hrs": "hours", "hours": "hours", "pct": "percent", "percent": "percent",
}  # fmt: skip
_FILLER = {"the", "of", "a", "in", "yn"}


def normalize(name: str) -> str:
    """Lower-case words of a column name: ``"AgentID"`` -> ``agent id``, ``"Date/Time"`` -> ``date time``."""
    s = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(name))
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", s)
    s = s.lower().replace("&", " and ").replace("#", " id ").replace("%", " pct ")
    return " ".join(re.findall(r"[a-z0-9]+", s))


def split_unit(norm: str) -> tuple[str, str | None]:
    """(name without unit and filler words, unit) of a normalized name: ``aht s`` -> (``aht``, ``seconds``)."""
    words = norm.split()
    unit = None
    if len(words) > 1 and words[-1] in UNIT_WORDS:
        unit = UNIT_WORDS[words.pop()]
    kept = [w for w in words if w not in _FILLER] or words
    return " ".join(kept), unit


def synonyms(canonical: str) -> tuple[str, ...]:
    """Names a canonical column goes by (metric columns also by their registry name and label)."""
    out = list(SYNONYMS.get(canonical, ()))
    for m in metric_registry.registry().values():
        if m.column == canonical:
            out += [normalize(m.column), normalize(m.name), normalize(m.label)]
    if canonical not in SYNONYMS and not out:
        out.append(normalize(canonical))
    return tuple(dict.fromkeys(out))


def name_score(name: str, canonical: str) -> tuple[float, str]:
    """How well a client column name matches a canonical column: (0-1, the synonym that matched)."""
    norm, _ = split_unit(normalize(name))
    tokens = norm.split()
    if not tokens:
        return 0.0, ""
    best, how = 0.0, ""
    for k, syn in enumerate(synonyms(canonical)):
        exact_only = syn.startswith("=")
        syn = syn.lstrip("=")
        words = syn.split()
        if tokens == words or "".join(tokens) == "".join(words):
            score = 1.0 - 0.01 * k
        elif exact_only:
            continue
        elif set(words) <= set(tokens):
            score = 0.55 + 0.3 * len(words) / len(tokens) - 0.005 * k
        elif set(tokens) < set(words):
            score = 0.4
        else:
            continue
        if score > best:
            best, how = score, syn
    return best, how
