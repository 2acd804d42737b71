"""An expat parser that refuses DTD internal subsets and entities and never fetches anything, and its error texts."""

from __future__ import annotations

from xml.parsers import expat

from plexm8.errors import SourceFormatError

__all__ = ["feed", "hardened_parser", "xml_problem"]


def _refuse(name: str, what: str) -> SourceFormatError:
    return SourceFormatError(name, f"contains {what}, which PlexM8 refuses to read (entity expansion attack?)")


def hardened_parser(name: str) -> expat.XMLParserType:
    """A new expat parser for the file ``name`` (used in error messages) that rejects every entity mechanism.

    A DOCTYPE naming an external DTD (every plist has one) is allowed but never loaded; an internal subset, any
    entity declaration and any external entity reference raise :class:`SourceFormatError`, so neither a billion
    laughs nor an XXE can happen, whatever the expat version's own limits.
    """
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def doctype(_name: str, _sysid: str | None, _pubid: str | None, has_internal_subset: int) -> None:
        if has_internal_subset:
            raise _refuse(name, "a DTD internal subset")

    def entity(*_args: object) -> None:
        raise _refuse(name, "an entity declaration")

    def external(*_args: object) -> int:
        raise _refuse(name, "an external entity reference")

    def skipped(entity_name: str, _is_parameter: int) -> None:
        # With an external DTD named (every plist names one) expat skips unknown entities silently; text would
        # be lost without a word, so an unknown entity is an error as it is in a standalone document.
        raise SourceFormatError(name, f"uses an undefined entity &{entity_name}; at line {parser.CurrentLineNumber}")

    parser.StartDoctypeDeclHandler = doctype
    parser.SkippedEntityHandler = skipped
    parser.EntityDeclHandler = entity
    parser.UnparsedEntityDeclHandler = entity
    parser.ExternalEntityRefHandler = external
    return parser


def xml_problem(error: expat.ExpatError, parser: expat.XMLParserType) -> str:
    """A one-line description of an expat error for the user, with where it happened."""
    where = f"line {error.lineno}, column {error.offset + 1}"
    codes = expat.errors.codes
    code = error.code
    if code == codes[expat.errors.XML_ERROR_NO_ELEMENTS] and parser.CurrentByteIndex <= 0:
        return "is empty or not XML"
    if code in (
        codes[expat.errors.XML_ERROR_NO_ELEMENTS],
        codes[expat.errors.XML_ERROR_UNCLOSED_TOKEN],
        codes[expat.errors.XML_ERROR_PARTIAL_CHAR],
    ):
        return f"is truncated or not well-formed XML (it ends at {where}); export it again"
    if code == codes[expat.errors.XML_ERROR_INVALID_TOKEN]:
        return (
            f"is not well-formed XML at {where} (an invalid character: is the file in the encoding its XML "
            "declaration names, UTF-8 by default?)"
        )
    if code == codes[expat.errors.XML_ERROR_UNKNOWN_ENCODING]:
        return f"declares an encoding PlexM8 cannot read ({where}); save it as UTF-8"
    if code == codes[expat.errors.XML_ERROR_UNDEFINED_ENTITY]:
        return f"uses an undefined entity at {where}"
    return f"is not well-formed XML at {where} ({expat.errors.messages[code]})"


def feed(parser: expat.XMLParserType, name: str, data: bytes, final: bool) -> None:
    """Parse the next ``data`` of file ``name``; every way expat fails becomes a :class:`SourceFormatError`."""
    try:
        parser.Parse(data, final)
    except expat.ExpatError as exc:
        raise SourceFormatError(name, xml_problem(exc, parser)) from None
    except LookupError:  # an encoding Python does not know
        raise SourceFormatError(name, "declares an encoding PlexM8 cannot read; save it as UTF-8") from None
    except ValueError as exc:  # an encoding expat cannot use (multi-byte ones other than UTF-8/16)
        raise SourceFormatError(name, f"declares an encoding PlexM8 cannot read ({exc}); save it as UTF-8") from None
