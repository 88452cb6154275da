"""The layout of a SAS transport (XPORT) file, worked out from its headers.

The readers (pandas, pyreadstat) trust the file: a transport file cut short is read without a
word, the records up to the cut and nothing after. :func:`xport_layout` computes from the
headers what the file must hold, and :func:`check_record_count` compares that with what a reader
returned, so that a damaged file is refused with what is wrong rather than analysed in part.

The format (SAS technical note TS-140, XPORT version 5, and its version 8 extension) is a
sequence of 80-byte card images:

- three cards of library header (``HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!``, or
  ``LIBV8`` in version 8), then per member (dataset) a member header card whose columns 75-78
  give the length of a variable descriptor (NAMESTR: 140 bytes, 136 on VAX/VMS), a descriptor
  header card and two cards of member data;
- a NAMESTR header card whose columns 53-58 give the number of variables, then one NAMESTR per
  variable (type 1 numeric or 2 character, big-endian 16-bit, then the value length in bytes),
  padded with blanks to a multiple of 80 bytes; version 8 may add a long-label section
  (``LABELV8`` / ``LABELV9``), also padded to a multiple of 80;
- an observation header card (``OBS`` or ``OBSV8``; version 8 gives the number of records in
  columns 49-63, version 5 does not), then the records, each as long as the variables' lengths
  added up, one after the other, the whole padded with ASCII blanks to a multiple of 80 bytes.

A version 5 file records no count, so its count is what the data part holds: a file cut at a
card boundary that is also a record boundary cannot be told from a shorter file. Every other cut
is detected: a data part that is not a whole number of cards, or a last record that is neither
complete nor blank padding (a record is never all blanks when the dataset has a numeric
variable, since a missing number is written ``.`` and zeros). In a dataset whose variables are
all character, trailing all-blank records within the last card cannot be told from padding
(SAS's own reader drops them); any count between the two is accepted.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

CARD = 80

_PREFIX = b"HEADER RECORD*******"
_LIBRARY = {b"LIBRARY HEADER RECORD!!!!!!!": 5, b"LIBV8   HEADER RECORD!!!!!!!": 8}
_MEMBER = (b"HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!",
           b"HEADER RECORD*******MEMBV8  HEADER RECORD!!!!!!!")
_DESCRIPTOR = (b"HEADER RECORD*******DSCRPTR HEADER RECORD!!!!!!!",
               b"HEADER RECORD*******DSCPTV8 HEADER RECORD!!!!!!!")
_NAMESTR = (b"HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!",
            b"HEADER RECORD*******NAMSTV8 HEADER RECORD!!!!!!!")
_LABELS = (b"HEADER RECORD*******LABELV8 HEADER RECORD!!!!!!!",
           b"HEADER RECORD*******LABELV9 HEADER RECORD!!!!!!!")
_OBS = (b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!",
        b"HEADER RECORD*******OBSV8   HEADER RECORD!!!!!!!")


class XportLayoutError(ValueError):
    """A transport file whose bytes do not match its headers.

    Parameters
    ----------
    message : str
        What is wrong, for a person.
    rule : str
        ``file-truncated`` (the file ends before what its headers promise), ``file-layout``
        (any other mismatch) or ``file-unreadable`` (not a transport file at all).
    """

    def __init__(self, message: str, rule: str = "file-layout") -> None:
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True)
class XportLayout:
    """What the headers of a transport file say it holds.

    Attributes
    ----------
    version : int
        5 or 8.
    variables : int
        Number of variables (NAMESTR records).
    record_length : int
        Bytes per record: the variables' lengths added up.
    data_start : int
        Byte offset of the first record.
    records : int
        Records the data part holds.
    blank_records : int
        Of those, trailing all-blank records within the last card, which may be padding (only
        when every variable is character: a missing number is written ``.`` and zeros, so a
        record with a numeric variable is never all blanks).
    promised : int or None
        The count the version 8 observation header gives (None in version 5 or when blank).
    """

    version: int
    variables: int
    record_length: int
    data_start: int
    records: int
    blank_records: int = 0
    promised: int | None = None

    @property
    def fewest(self) -> int:
        """The smallest count a correct reader can return (blank trailing records dropped)."""
        return self.records - self.blank_records


def _card(data: bytes, offset: int, what: str) -> bytes:
    if offset + CARD > len(data):
        raise XportLayoutError(
            f"the file ends at byte {len(data):,}, inside its headers ({what} was due at byte "
            f"{offset:,}): it is cut short", rule="file-truncated")
    return data[offset:offset + CARD]


def _expect(card: bytes, prefixes: tuple[bytes, ...], offset: int, what: str) -> None:
    if not card.startswith(prefixes):
        shown = card[:48].decode("latin1", "replace").rstrip()
        raise XportLayoutError(f"byte {offset:,}: expected the {what} header record, found "
                               f"{shown!r}")


def xport_layout(data: bytes) -> XportLayout:
    """Work out the layout of a transport file from its headers and size.

    Parameters
    ----------
    data : bytes
        The whole (uncompressed) file.

    Returns
    -------
    XportLayout
        What the file holds.

    Raises
    ------
    XportLayoutError
        When the file is not a transport file, ends inside its headers, holds more than one
        dataset, or its data part is not a whole number of cards, ends in an incomplete record
        or holds fewer records than its header promises.
    """
    first = data[:CARD]
    version = _LIBRARY.get(first[len(_PREFIX):48]) if first.startswith(_PREFIX) else None
    if version is None:
        raise XportLayoutError("not a SAS transport (XPORT) file: it does not start with a "
                               "library header record", rule="file-unreadable")
    member = _card(data, 3 * CARD, "the member header")
    _expect(member, _MEMBER, 3 * CARD, "member")
    try:
        namestr_length = int(member[74:78])
    except ValueError:
        namestr_length = -1
    if namestr_length not in (136, 140):
        raise XportLayoutError(f"the member header gives a variable descriptor length of "
                               f"{member[74:78]!r}; 140 (or 136) expected")
    _expect(_card(data, 4 * CARD, "the descriptor header"), _DESCRIPTOR, 4 * CARD,
            "member descriptor")
    header = _card(data, 7 * CARD, "the NAMESTR header")
    _expect(header, _NAMESTR, 7 * CARD, "NAMESTR")
    try:
        variables = int(header[52:58])
    except ValueError:
        raise XportLayoutError(f"the NAMESTR header gives the number of variables as "
                               f"{header[52:58]!r}, not a number") from None
    if variables < 1:
        raise XportLayoutError("the NAMESTR header gives 0 variables")
    start = 8 * CARD
    block = variables * namestr_length
    offset = start + -(-block // CARD) * CARD
    if offset > len(data):
        raise XportLayoutError(
            f"the file ends at byte {len(data):,}, inside the descriptors of its {variables} "
            "variables: it is cut short", rule="file-truncated")
    record_length = 0
    numeric = False
    for i in range(variables):
        at = start + i * namestr_length
        kind, _, length = struct.unpack(">hhh", data[at:at + 6])
        name = data[at + 8:at + 16].decode("latin1", "replace").strip()
        if kind not in (1, 2) or length < 1 or (kind == 1 and not 2 <= length <= 8):
            raise XportLayoutError(f"variable {i + 1} ({name!r}) has type {kind} and length "
                                   f"{length}, which no transport file holds")
        record_length += length
        numeric |= kind == 1
    card = _card(data, offset, "the observation header")
    if card.startswith(_LABELS):
        offset += CARD
        while not _card(data, offset, "the observation header").startswith(_OBS):
            offset += CARD
        card = data[offset:offset + CARD]
    _expect(card, _OBS, offset, "observation")
    promised = None
    if version == 8:
        digits = card[48:63].decode("latin1", "replace").strip()
        if digits.isdigit() and int(digits) > 0:
            promised = int(digits)
    data_start = offset + CARD
    _check_one_member(data, data_start)
    return _count(data, version, variables, record_length, data_start, promised, numeric)


def _check_one_member(data: bytes, data_start: int) -> None:
    for prefix in _MEMBER:
        at = data.find(prefix, data_start)
        while at != -1 and at % CARD:
            at = data.find(prefix, at + 1)
        if at != -1:
            raise XportLayoutError(f"the file holds more than one dataset (a second member "
                                   f"header at byte {at:,}); give one dataset per file")


def _count(data: bytes, version: int, variables: int, record_length: int, data_start: int,
           promised: int | None, numeric: bool) -> XportLayout:
    size = len(data) - data_start
    whole = size // record_length
    rest = size - whole * record_length
    if size % CARD:
        raise XportLayoutError(
            f"its data part is {size:,} bytes, not a whole number of 80-byte cards: the file is "
            f"cut short ({whole:,} whole record(s) of {record_length} bytes"
            + (f", then {rest} byte(s) of the next)" if rest else ")"), rule="file-truncated")
    tail = data[data_start + whole * record_length:]
    if tail.strip(b" "):
        raise XportLayoutError(
            f"its last record is incomplete: after {whole:,} record(s) of {record_length} bytes "
            f"come {rest} byte(s) that are neither a whole record nor blank padding: the file "
            "is cut short (or has bytes appended)",
            rule="file-truncated")
    blank = 0
    while (blank < whole and size - (whole - blank - 1) * record_length < CARD
           and not data[data_start + (whole - blank - 1) * record_length:].strip(b" ")):
        blank += 1
    if numeric:  # a record with a number is never all blanks: the blank ones are padding
        whole, blank = whole - blank, 0
    layout = XportLayout(version, variables, record_length, data_start, whole, blank, promised)
    if promised is not None and not layout.fewest <= promised <= whole:
        rule = "file-truncated" if promised > whole else "file-layout"
        raise XportLayoutError(f"its observation header promises {promised:,} record(s), the "
                               f"file holds {whole:,}", rule=rule)
    return layout


def check_record_count(layout: XportLayout, read: int) -> None:
    """Raise :class:`XportLayoutError` when a reader returned another count than the layout's.

    Parameters
    ----------
    layout : XportLayout
        The file's layout.
    read : int
        The number of records the reader returned.
    """
    if not layout.fewest <= read <= layout.records:
        held = f"{layout.fewest:,}"
        if layout.records > layout.fewest:
            held += (f" to {layout.records:,} (blank records at its end cannot be told from "
                     "padding)")
        raise XportLayoutError(f"the reader returned {read:,} record(s), the file holds "
                               f"{held}, of {layout.record_length} bytes each")
