"""Unified social credit codes (统一社会信用代码, GB 32100-2015): validation and generation."""

import random
from dataclasses import dataclass

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
LENGTH = 18
_VALUE = {char: index for index, char in enumerate(CHARSET)}

# GB 11714 organisation code inside positions 9-17 (used only when generating realistic codes).
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
# 綦江区 administrative division code.
QIJIANG_DIVISION = "500110"


@dataclass(frozen=True)
class CodeProblem:
    """Why a code is refused: a machine-readable kind and the values a message needs."""

    kind: str  # "empty" | "length" | "character" | "check_digit"
    length: int = 0
    position: int = 0
    character: str = ""
    expected: str = ""

    def message(self) -> str:
        """The reason in the user's language."""
        from flask_babel import gettext as _

        if self.kind == "empty":
            return _("The credit code is empty.")
        if self.kind == "length":
            return _("The credit code must have 18 characters, not %(n)s.", n=self.length)
        if self.kind == "character":
            return _(
                "Invalid character “%(char)s” at position %(pos)s of the credit code "
                "(allowed: digits and capital letters except I, O, Z, S, V).",
                char=self.character, pos=self.position,
            )
        return _(
            "Wrong check digit: the 18th character should be %(expected)s, not %(actual)s.",
            expected=self.expected, actual=self.character,
        )


def normalise(code: str | None) -> str:
    """Trim spaces (also full-width) and upper-case."""
    if code is None:
        return ""
    return str(code).replace("\u3000", " ").strip().replace(" ", "").upper()


def check_digit(first17: str) -> str:
    """The 18th character for the first 17 (which must be in the charset)."""
    total = sum(_VALUE[char] * weight for char, weight in zip(first17, WEIGHTS, strict=True))
    value = 31 - total % 31
    return CHARSET[0 if value == 31 else value]


def problem(code: str | None) -> CodeProblem | None:
    """None for a valid (normalised) code, else what is wrong with it."""
    code = normalise(code)
    if not code:
        return CodeProblem("empty")
    if len(code) != LENGTH:
        return CodeProblem("length", length=len(code))
    for position, char in enumerate(code, start=1):
        if char not in _VALUE:
            return CodeProblem("character", position=position, character=char)
    expected = check_digit(code[:17])
    if code[17] != expected:
        return CodeProblem("check_digit", expected=expected, character=code[17])
    return None


def is_valid(code: str | None) -> bool:
    """True for a valid credit code."""
    return problem(code) is None


def _org_code(rng: random.Random) -> str:
    body = "".join(rng.choice("0123456789") for _ in range(8))
    total = sum(int(c) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return body + ("X" if value == 10 else "0" if value == 11 else str(value))


def generate(rng: random.Random | None = None, *, division: str = QIJIANG_DIVISION) -> str:
    """A valid enterprise credit code (registered by market regulation, enterprise type)."""
    rng = rng or random.Random()
    first17 = "91" + division + _org_code(rng)
    return first17 + check_digit(first17)


def generate_unique(count: int, seed: int = 0, *, division: str = QIJIANG_DIVISION) -> list[str]:
    """`count` distinct valid codes, the same list for the same seed."""
    rng = random.Random(seed)
    seen: set[str] = set()
    codes: list[str] = []
    while len(codes) < count:
        code = generate(rng, division=division)
        if code not in seen:
            seen.add(code)
            codes.append(code)
    return codes
