"""Limits shared by the API's request shapes."""

#: The longest free text a request field takes (comments, summaries, reasons).
TEXT_MAX = 4000
