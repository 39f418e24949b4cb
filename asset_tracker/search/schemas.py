"""Search contracts: SearchArgs in (the query string), SearchResultSchema out."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..devices.schemas import DeviceSchema
from ..intake.schemas import BatchSchema
from ..schemas import StrictSchema
from .services import MAX_QUERY


class SearchArgs(StrictSchema):
    q = fields.String(required=True, validate=validate.Length(min=1, max=MAX_QUERY),
                      metadata={"description": "A tag (with or without dashes, or garbled by an AZERTY keyboard), a "
                                               "serial number, an IMEI, brand and model words, or a batch name."})


class SearchResultSchema(Schema):
    query = fields.String()
    exact = fields.Function(lambda r: r.exact.tag if r.exact else None,
                            metadata={"description": "The tag of the one device the text names (tag, serial, IMEI)."})
    read_as = fields.String(
        allow_none=True, metadata={"description": "The tag a dash-less or garbled text was read as."}
    )
    devices = fields.List(fields.Nested(DeviceSchema))
    batches = fields.List(fields.Nested(BatchSchema))
