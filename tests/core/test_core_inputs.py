"""The shared input error and input file: messages, pickling, and the containers each parser accepts."""

from __future__ import annotations

import gzip
import pickle

import pytest

from finops.core.concurrency import prefetch
from finops.usage.formats.errors import IngestError, UnknownFormatError
from finops.usage.formats.readers import Source
from pricing.importers.errors import PriceImportError
from pricing.importers.files import InputFile


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (IngestError("bad", file="a.csv", row=3, column="Cost"), "file a.csv, row 3, column Cost: bad"),
        (UnknownFormatError("unknown", file="a.csv"), "file a.csv: unknown"),
        (PriceImportError("bad", file="p.json", row=2, field="sku"), "file p.json, row 2, field sku: bad"),
        (PriceImportError("bad"), "bad"),
    ],
)
def test_errors_name_where_and_survive_pickling(error, text):
    assert str(error) == error.describe() == text
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error) and str(again) == text
    assert (again.message, again.file, again.row) == (error.message, error.file, error.row)


def test_a_zip_price_list_is_read_as_plain_text_but_a_zip_export_is_unpacked(tmp_path):
    import zipfile

    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("cur.csv", "a,b\n1,2\n")
    assert InputFile.open(path).container == "csv"
    source = Source.open(path)
    assert (source.container, source.member) == ("zip", "cur.csv")
    assert source.header() == ["a", "b"]


def test_a_name_promising_gzip_without_its_header_is_refused_by_both(tmp_path):
    path = tmp_path / "prices.csv.gz"
    path.write_text("a,b\n")
    for opener, error in ((InputFile.open, PriceImportError), (Source.open, IngestError)):
        with pytest.raises(error, match="truncated or corrupt gzip file \\(no gzip header\\)"):
            opener(path)
    packed = tmp_path / "really.csv"
    packed.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    assert InputFile.open(packed).gzip and InputFile.open(packed).head() == b"a,b\n1,2\n"


def test_prefetch_reraises_the_producer_error_and_closes_its_source():
    closed = []

    def source():
        try:
            yield 1
            raise ValueError("broken")
        finally:
            closed.append(True)

    items = prefetch(source(), 1, name="test-prefetch")
    assert next(items) == 1
    with pytest.raises(ValueError, match="broken"):
        next(items)
    assert closed == [True]
