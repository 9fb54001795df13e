"""Documentary: one narrator tells a piece of history in parts, with short passages read in
character by the figures involved (letters, speeches, diaries). A chapter per part."""

from epochpod_assets.formats.documentary.format import *  # noqa: F403
from epochpod_assets.formats.documentary.format import DocumentaryFormat
from epochpod_assets.formats.documentary.request import DocumentaryRequest, Figure  # noqa: F401

FORMAT = DocumentaryFormat()
