"""Decoding of Kubernetes protobuf request bodies (``application/vnd.kubernetes.protobuf``).

kubectl 1.32 and later send the bodies of its typed-client writes as protobuf
(``kubectl create namespace|configmap|secret|deployment|service|...``,
``kubectl debug``, ``drain --disable-eviction``'s DeleteOptions), and
client-go never falls back to JSON for them.  The server keeps objects as
their JSON form, so this package turns such a body into exactly the dict a
JSON client would have sent for the same Go object; responses stay JSON (the
clients accept it).

Layering, each part pure (no I/O):

* :mod:`.wire` -- varints, length-delimited fields, skipping, and the
  ``k8s\\x00`` + ``runtime.Unknown`` envelope;
* :mod:`.layout` -- the kinds and flags of the layout table and the
  zero-value rule (drop a zero only for an ``omitempty`` non-pointer field);
* :mod:`.messages` -- the table itself: per message, field number -> JSON
  name, kind, nested type, flags; generated from upstream's ``generated.proto``
  and Go struct tags;
* :mod:`.decoder` -- the table-driven walk and the special apimachinery types
  (Time, MicroTime, Quantity, IntOrString, FieldsV1, RawExtension).

Public API: :func:`decode_object` (raises :class:`DecodeError`, a
:class:`ValueError`, on malformed input or a type the table does not
describe), :func:`decode_message` for one bare message, :func:`layout_for`,
and the constants :data:`MEDIA_TYPE` and :data:`MAGIC`.
"""

from kybernetes.api.protobuf.decoder import decode_message, decode_object, layout_for
from kybernetes.api.protobuf.wire import MAGIC, MEDIA_TYPE, DecodeError

__all__ = ["MAGIC", "MEDIA_TYPE", "DecodeError", "decode_message", "decode_object", "layout_for"]
