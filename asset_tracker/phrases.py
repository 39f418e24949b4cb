"""A sentence with its values, English where it is stored or logged, translated where a person reads it."""
from __future__ import annotations

from flask_babel import format_decimal, gettext


class Phrase(str):
    """``Phrase(N_("more than %(max)s rows: split the file"), max=10000)``.

    It *is* the English text (a ``str``: it compares, joins and serialises as one, so API details, records
    and logs keep English) and keeps its template and values, so a page shows ``translated()``: the
    template in the reader's language with whole numbers in the reader's format.
    """

    template: str
    params: dict

    def __new__(cls, template: str, **params) -> Phrase:
        self = super().__new__(cls, template % params if params else template)
        self.template, self.params = template, params
        return self

    def translated(self) -> str:
        """In the reader's language (needs a request or application context)."""
        text = gettext(self.template)
        if not self.params:
            return text
        return text % {k: format_decimal(v) if isinstance(v, int) and not isinstance(v, bool) else v
                       for k, v in self.params.items()}
