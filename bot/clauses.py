"""A customer message cut into the parts that could each be about a problem of its own.

"my parcel is late, also i was charged twice" is two moments; the classifier, reading the
whole message, names one. The classifier also reads each part (:func:`split_clauses`), so
the turn logic can say that it heard the other and come back to it. Pure text rules, no
model: a message is cut only where a word adds a problem (:data:`_BOUNDARY`), and a part
must have :data:`MIN_WORDS` words ("hi. also my parcel is late" stays whole) unless it is a
bare answer ("no, also i was charged twice"). Whether a later part states a problem at all
(:func:`states_a_problem`) is for the turn logic to weigh with its moment.
"""

from __future__ import annotations

import re

#: Where a second problem begins: a word that adds one ("also", "another thing", "oh and",
#: "on top of that", "btw"), after a full stop, a comma or an "and" or not. A plain "and" or
#: a new sentence mostly adds background ("cancelled my order and havent been refunded",
#: "my refund hasnt come. i sent it back weeks ago"), so neither splits on its own; nor does
#: "plus" without a comma before it, which is mostly the membership ("paying for plus and
#: still no next day delivery").
_BOUNDARY = re.compile(
    r"(?:[.!?;,]+\s*|\s+)(?:-+\s*)?(?:and\s+|but\s+)?"
    r"\b(?:also|another thing|one more thing|oh and|on top of that|as well as that"
    r"|besides that|separately|additionally|unrelated(?: question)?|btw|by the way)\b[,:]?\s+"
    # "plus" after a comma ("move my delivery slot, plus my card keeps getting declined"), not
    # the membership ("paying for plus and still no next day delivery")
    r"|[,;]+\s*(?:and\s+)?plus\b[,:]?\s+",
    re.IGNORECASE,
)
#: Words of a problem or a request: a part after a marker without one is most likely
#: background ("my order is late, also i have a plus membership", "the lamp broke. oh and i
#: bought it in march").
_STATES_A_PROBLEM = re.compile(
    r"\?|\b(how|can|could|would|will|where|when|why|what|whats|is there|do you|pls|please|plz"
    r"|want|wanna|need|needs|like to|trying|tried|help"
    r"|not|no|never|nothing|cannot|n'?t|cant|wont|didnt|doesnt|dont|isnt|wasnt|arent|havent"
    r"|hasnt|still|again|wrong|broke|broken|damaged|dent(ed)?|scratch\w*|crack\w*|smashed"
    r"|snapped|soaked|ruined|missing|lost|late|delayed|overdue|stopp?ed|fail\w*|declined"
    r"|refused|rejected|error|charged|charges?|fee|billed|twice|double|two payments|hacked"
    r"|stolen|faulty|leak\w*|crash\w*|keeps|fr[oe]ze\w*|stuck|problem|issue|bug|glitch"
    r"|cancel\w*|return|refund|exchange|swap|swop|change|update|delete"
    r"|remove|close|pause|on hold|complain\w*|invoice|receipt|reset|expired?|invalid"
    r"|rip|ripped|torn|tear|stain\w*|chip\w*|bent|shatter\w*|smell\w*|damp|mou?ld\w*|dead"
    r"|died|unusable|locked|compromised|someone|somebody|logged|logins?|used my|instead"
    r"|without|taken|copy|data|ombudsman|lawyer|trading standards)\b",
    re.IGNORECASE,
)
#: A bare answer, a part however short: "no, also i was charged twice".
_BARE_ANSWER = re.compile(r"^\W*(no|nope|nah|yes|yep|yeah|ok(ay)?)\W*$", re.IGNORECASE)
#: Where the classifier puts the moment of each part in its parse result:
#: ``[{"text", "name", "confidence"}]``.
CLAUSES_KEY = "moment_clauses"
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
#: A part shorter than this is joined to the part before it ("hi. also my order is late").
MIN_WORDS = 2
#: More parts than this, and the message is read whole only (a story, not a list).
MAX_CLAUSES = 4


def split_clauses(text: str) -> list[str]:
    """The message's parts, each of at least :data:`MIN_WORDS` words, in order; empty when
    it has only one (or more than :data:`MAX_CLAUSES`)."""
    parts: list[str] = []
    start = 0
    for boundary in _BOUNDARY.finditer(text):
        piece = text[start:boundary.start()].strip()
        if piece:
            parts.append(piece)
        start = boundary.end()
    if tail := text[start:].strip():
        parts.append(tail)
    clauses: list[str] = []
    short = ""  # words too few to stand alone, carried into the next part
    for part in parts:
        part = f"{short} {part}".strip() if short else part
        if len(_WORD.findall(part)) >= MIN_WORDS or (not clauses and _BARE_ANSWER.match(part)):
            clauses.append(part)
            short = ""
        else:
            short = part
    if short and clauses:  # a short tail belongs to the part before it
        clauses[-1] = f"{clauses[-1]} {short}"
    return clauses if 1 < len(clauses) <= MAX_CLAUSES else []


def states_a_problem(part: str) -> bool:
    """Whether a part names a problem or asks for something (:data:`_STATES_A_PROBLEM`)."""
    return bool(_STATES_A_PROBLEM.search(part))
