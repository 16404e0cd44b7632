"""The English text of every error a person can meet on the web, by stable key.

An error raised with a key (``ConflictError(key="lot.recalled", lot="HD-VAI-01/L1")``, see
:class:`agritrace.errors.AgritraceError`) takes its message from :data:`ERROR_MESSAGES`,
filled in with its facts by :meth:`str.format`. The CLI, the logs and the JSON API's
problem documents show that English; the web's pages show the same key in the visitor's
language from the web's gettext catalogues (``agritrace/web/translations``, ids
``err.<key>``; the ``en`` entries must equal these, a test checks it), filled in with the
same facts.

Contract: a key never changes meaning (rename it together with its translations); a
template names only facts that every raise site passes (a test reads the raise sites).
No web framework and no database here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["ERROR_MESSAGES", "render_message"]

ERROR_MESSAGES: dict[str, str] = {
    # typed input (trace/validation.py, trace/passwords.py and forms)
    "input.code": "{field} {raw!r} is not valid: use 1-40 letters, digits, '.', '_' or '-'",
    "input.empty": "{field} must not be empty",
    "input.too_long": "{field} is longer than {max_len} characters",
    "input.control_characters": "{field} contains control characters",
    "input.gs1_digits": "{field} must be {allowed} digits, not {raw!r}",
    "input.gs1_check_digit": "{field} {digits} has a wrong check digit: the {scheme} check "
    "digit should be {expected}",
    "input.date": "{field} {raw!r} is not a date: use YYYY-MM-DD",
    "input.whole_number": "{field} must be a whole number",
    "input.not_whole_number": "{field} {raw!r} is not a whole number",
    "input.not_positive": "{field} must be greater than zero, not {value}",
    "input.too_big": "{field} must be at most {maximum}, not {value}",
    "input.not_number": "{field} {raw!r} is not a number",
    "input.not_finite": "{field} must be a finite number",
    "epcis.shape": "field {field!r} of the EPCIS document must be a JSON {wanted}",
    "epcis.shape_event": "event {event}: field {field!r} must be a JSON {wanted}",
    "input.json_too_deep": "the JSON document nests deeper than {max_depth} levels",
    "input.decimal_places": "{field} has more than {places} decimal places",
    "input.not_above": "{field} must be greater than {minimum}",
    "input.too_large": "{field} is too large",
    "input.out_of_range": "{field} must be between -{limit} and {limit}",
    "input.parameter_required": "the parameter {parameter!r} is required",
    "input.parameter_whole_number": "the parameter {parameter!r} must be a whole number, "
    "not {raw!r}",
    "input.parameter_choice": "the parameter {parameter!r} must be one of {choices}, not {raw!r}",
    "password.too_short": "password must be at least {min_len} characters",
    "password.too_long": "password is longer than {max_len} characters",
    # facilities, certificates, products (trace/registry.py)
    "facility.unknown": "unknown facility {facility!r}",
    "facility.exists": "facility {facility} already exists",
    "facility.gln_exists": "GLN {gln} is already registered",
    "facility.already_suspended": "facility {facility} is already suspended",
    "facility.suspended": "facility {facility} is suspended",
    "facility.suspended_events": "facility {facility} is suspended and cannot record events",
    "facility.not_yours": "facility {facility} is not yours",
    "certificate.scheme_unknown": "unknown certificate scheme {raw!r}: use one of {known}",
    "certificate.unknown": "unknown {scheme} certificate {number!r}",
    "certificate.unknown_id": "unknown certificate {certificate}",
    "certificate.exists": "{scheme} certificate {number} is already recorded",
    "certificate.already_suspended": "certificate {number} is already suspended",
    "certificate.ends_before_start": "certificate ends ({valid_to}) before it starts "
    "({valid_from})",
    "certificate.expired": "certificate expired on {valid_to}: only a current certificate "
    "can be recorded",
    "certificate.none": "facility {facility} holds no certificate",
    "certificate.all_suspended": "every certificate of facility {facility} is suspended",
    "certificate.not_yet_valid": "certificate {number} of facility {facility} is not valid "
    "until {valid_from} (needed on {day})",
    "certificate.lapsed": "certificate {number} of facility {facility} expired on {valid_to} "
    "(needed on {day})",
    "product.unknown": "unknown product {product!r}",
    "product.exists": "product {product} already exists",
    "product.gtin_exists": "GTIN {gtin} is already registered",
    # lots (trace/registry.py, trace/recalls.py)
    "lot.ref": "lot {ref!r} must be written FACILITY/LOT, e.g. HY-VAI-01/L2026-001",
    "lot.unknown": "unknown lot {lot}",
    "lot.exists": "lot {lot} already exists",
    "lot.harvest_in_future": "harvest date {harvest} is in the future",
    "lot.pack_before_harvest": "pack date {packed} is before harvest date {harvest}",
    "lot.pack_in_future": "pack date {packed} is in the future",
    "lot.half_a_place": "give both latitude and longitude, or neither",
    # the scan page's place form (trace/scans.py)
    "place.not_finite": "latitude and longitude must be finite numbers",
    "place.out_of_range": "latitude must be between -90 and 90 and longitude between -180 and 180",
    "place.coordinate": "{field} must be a number such as 21.0",
    # the scan page's claim codes and reviews (trace/claiming.py, trace/scan_signals.py)
    "scan.form_token": "this form was for another stamp or has expired: open the stamp's "
    "page again",
    "claim.malformed": "this is not a claim code: it has 10 digits (check them for a typo)",
    "claim.province": "choose a province from the list",
    "claim.unavailable": "this stamp has no claim code",
    "claim.wrong": "this is not the claim code of this stamp ({left} attempts left today)",
    "claim.locked": "too many wrong claim codes for this stamp today (at most {limit}): try "
    "again tomorrow",
    "review.decision": "a review decision is 'confirmed' or 'cleared'",
    "review.unknown_stamp": "no issued stamp has serial {serial}",
    "lot.already_recalled": "lot {lot} is already recalled",
    # stamps (trace/issuance.py, web/views.py, web/portal.py)
    "stamps.lot_recalled": "lot {lot} is recalled: no stamps can be issued for it",
    "stamps.print_suspended": "facility {facility} is suspended: its stamps cannot be "
    "downloaded or reprinted until it is reinstated",
    "stamps.print_recalled": "lot {lot} is recalled: its stamps cannot be downloaded or reprinted",
    "stamps.exceed_units": "issuing {count} stamps would exceed lot {lot}'s {units} declared "
    "units ({issued} already issued, {left} left)",
    "stamps.no_counter": "the serial counter is missing: run 'agritrace init'",
    "stamps.serials_exhausted": "the stamp serial space is exhausted",
    "stamps.batch_unknown": "unknown stamp batch {batch}",
    "stamps.print_kind": "stamps are printed as pdf, csv or zip, not {kind!r}",
    "stamps.print_too_many": "batch {batch} has {count} stamps: the web prints at most {limit} "
    "as {kind}; use 'agritrace stamps print {batch}'",
    # events (trace/events.py, web/portal.py)
    "event.time_format": "event time {raw!r} is not a date and time: use e.g. "
    "2026-06-10T06:30+07:00",
    "event.time_needs_offset": "event time needs a time zone offset",
    "event.time_in_future": "event time {time} is in the future",
    "event.time_before_harvest": "event time {time} is before lot {lot}'s harvest date {harvest}",
    "event.unit_mismatch": "cannot compare {unit} with lot {lot}'s unit {lot_unit}",
    "event.not_holder_in_transit": "facility {facility} does not hold lot {lot} (in transit "
    "to {holder}): only the holder records its events",
    "event.not_holder_held": "facility {facility} does not hold lot {lot} (held by {holder}): "
    "only the holder records its events",
    "event.not_holder_nobody": "facility {facility} does not hold lot {lot} (held by nobody): "
    "only the holder records its events",
    "event.duplicate": "this event is already recorded as ledger entry #{ledger_index}",
    "event.duplicate_in_batch": "this event is already recorded earlier in the same batch",
    "event.step_unknown_of": "unknown step {step!r}: use one of {known}",
    "event.step_unknown": "unknown step {step!r}",
    "event.processing_is_transformation": "processing is a transformation: use "
    "record_transformation",
    "event.processing_form": "record processing with its own form",
    "event.temperature_range": "temperature {temperature} °C is outside {low}..{high}",
    "event.shipment_needs_destination": "a shipment needs a destination facility",
    "event.destination_only_for_shipment": "only a shipment has a destination",
    "event.destination_is_self": "a shipment's destination must be another facility",
    "event.lot_recalled": "lot {lot} is recalled: only inspections can be recorded",
    "event.no_open_shipment": "no open shipment of lot {lot} to facility {facility} to receive",
    "event.harvest_by_owner": "only {owner} harvests lot {lot}",
    "event.already_harvested": "lot {lot} already has a harvest event",
    "event.not_an_event": "ledger entry #{index} is not an event",
    "event.correct_not_yours": "event #{index} was recorded by {owner}: only it can correct it",
    "event.already_corrected": "event #{index} is already corrected",
    "event.correct_later_first": "event #{index} is followed by other events of its lots: "
    "correct those first",
    "transform.needs_lots": "a transformation needs at least one input and one output lot",
    "transform.lot_twice": "lot {lot} is named twice",
    "transform.input_recalled": "input lot {lot} is recalled",
    "transform.input_short": "input lot {lot} has {left} {lot_unit} left, not {quantity} {unit}",
    "transform.not_weight": "transformation quantities must be weights (kg, g, t), not {unit}",
    "transform.input_and_output": "lot {lot} cannot be both input and output",
    "transform.output_elsewhere": "output lot {lot} belongs to {owner}, not {facility}",
    "transform.output_has_events": "output lot {lot} already has events",
    "transform.outputs_exceed_inputs": "outputs ({output_kg} kg) exceed inputs ({input_kg} kg)",
    "transform.amount_line": "{field}: {line!r} must look like FACILITY/LOT=2000 kg",
    "transform.amount_number": "{field}: {raw!r} is not a number",
    # people, tokens, audits (trace/access.py, trace/registry.py, web/auth.py, web/admin.py)
    "user.name": "username {username!r} is not valid: use letters, digits, '.', '_', '-' or '@'",
    "user.exists": "user {username} already exists",
    "user.unknown": "unknown user {user}",
    "user.role_unknown": "unknown role {role!r}",
    "user.role_unknown_of": "unknown role {role!r}: use one of {known}",
    "user.operator_needs_facility": "a facility operator must be bound to a facility",
    "user.role_without_facility": "the role {role} is not bound to a facility",
    "user.keep_own_admin": "you cannot take away your own administrator rights",
    "signin.failed": "wrong username or password",
    "signin.locked": "too many failed sign-ins: this account is locked for {minutes} minutes",
    "token.too_many": "at most {limit} live tokens per user: revoke one",
    "token.invalid": "the bearer token is not valid",
    "token.invalid_or_revoked": "the bearer token is not valid or was revoked",
    "token.expired": "the bearer token has expired: create a new one on your account page",
    "token.unknown": "unknown token {token}",
    "token.already_revoked": "token {name!r} is already revoked",
    "audit.running": "an audit is already running",
    "audit.unknown": "unknown audit run {audit}",
    "access.role_may_not": "your role may not open this page",
    "ledger.reveal_sign_in": "sign in to download private details with a proof bundle",
    "ledger.reveal_not_allowed": "you may not see the private details of ledger entry "
    "#{index}: only the facilities it concerns, inspectors and administrators may",
    "keys.purpose_unknown": "unknown key purpose {purpose!r}",
    # ledger, proofs and exports (trace/journal.py, trace/exports.py, web/*)
    "ledger.no_entry": "no ledger entry #{index}",
    "ledger.negative_index": "ledger index must not be negative, not {index}",
    "ledger.size_out_of_range": "tree size {size} is out of range: the ledger has {current} "
    "entries",
    "ledger.not_in_tree": "entry #{index} is not in a tree of {size} entries",
    "ledger.consistency_sizes": "a consistency proof needs 0 < old size <= new size, not {old} "
    "and {new}",
    "ledger.no_checkpoint_for_size": "no checkpoint for tree size {size}",
    "ledger.no_checkpoint": "no checkpoint has been signed yet",
    "ledger.no_revocations": "no revocation list has been signed yet",
    "ledger.not_covered": "no signed checkpoint covers entry #{index} yet: run 'agritrace "
    "ledger checkpoint'",
    "ledger.bundle_empty": "a proof bundle needs at least one entry",
    "ledger.proof_needs_index_and_size": "give an entry index and a checkpoint size",
    "export.scope": "name a lot, or a date range with both ends",
    "export.range_reversed": "the range ends ({end}) before it starts ({start})",
    "export.kind": "exports are epcis, fsma or bundle, not {kind!r}",
    # the web's own (web/__init__.py, web/security.py)
    "web.signing_unavailable": "signing is not available on this server",
    "web.signing_needs_passphrase": "signing is not available on this server: set "
    "AGRITRACE_KEY_PASSPHRASE to open the key ring ({reason})",
    "web.signing_ring_unopened": "signing is not available on this server: the key ring does "
    "not open with AGRITRACE_KEY_PASSPHRASE (the server's log says why)",
    "web.csrf": "the form expired or did not come from this site: reload the page",
    "web.rate_limited": "too many requests from this client: try again shortly",
    "web.rate_storage_unavailable": "signing in is unavailable for a moment (the request "
    "counter cannot be reached): try again shortly",
}


def render_message(key: str, facts: Mapping[str, Any]) -> str:
    """The English message ``key`` filled in with ``facts``.

    Raises KeyError for a key that is not in :data:`ERROR_MESSAGES` (a programming error, which
    the tests rule out). A template naming a fact the raise site did not pass comes back
    unfilled rather than failing, so that a user still gets a message.
    """
    template = ERROR_MESSAGES[key]
    try:
        return template.format_map(facts)
    except (KeyError, IndexError, ValueError):
        return template
