"""``agritrace facility add|certify|suspend|list``."""

from __future__ import annotations

import click

from agritrace.cli._common import CliContext, emit, json_option, pass_ctx
from agritrace.trace import registry

COLUMNS = ("id", "code", "name", "province", "gln", "status")


@click.group("facility")
def facility_group() -> None:
    """Certified facilities: farms, packers, cooperatives."""


@facility_group.command("add")
@click.option("--code", required=True, help="Short code, e.g. HY-VAI-01.")
@click.option("--name", required=True)
@click.option("--province", required=True)
@click.option("--address", required=True)
@click.option("--gln", default=None, help="Optional GS1 Global Location Number (13 digits).")
@json_option
@pass_ctx
def add(
    ctx: CliContext,
    code: str,
    name: str,
    province: str,
    address: str,
    gln: str | None,
    as_json: bool,
) -> None:
    """Register a facility."""
    with ctx.write() as session:
        facility = registry.add_facility(
            session, code=code, name=name, province=province, address=address, gln=gln
        )
        record = registry.facility_record(facility)
    emit(
        record,
        as_json=as_json,
        columns=COLUMNS,
        message=f"registered facility {facility.code}",
    )


@facility_group.command("certify")
@click.argument("facility_code", metavar="FACILITY")
@click.option("--scheme", required=True, help="vietgap, globalgap, organic, haccp or other.")
@click.option("--number", required=True, help="Certificate number.")
@click.option("--issuer", required=True, help="Certification body.")
@click.option("--valid-from", required=True, help="YYYY-MM-DD")
@click.option("--valid-to", required=True, help="YYYY-MM-DD")
@click.option("--scope", required=True, help="What the certificate covers.")
@json_option
@pass_ctx
def certify(
    ctx: CliContext,
    facility_code: str,
    scheme: str,
    number: str,
    issuer: str,
    valid_from: str,
    valid_to: str,
    scope: str,
    as_json: bool,
) -> None:
    """Record a certificate held by FACILITY."""
    with ctx.write() as session:
        certificate = registry.certify(
            session,
            facility_code=facility_code,
            scheme=scheme,
            number=number,
            issuer=issuer,
            valid_from=valid_from,
            valid_to=valid_to,
            scope=scope,
        )
        record = registry.certificate_record(certificate)
    emit(
        record,
        as_json=as_json,
        columns=("id", "facility", "scheme", "number", "valid_from", "valid_to"),
        message=f"recorded {certificate.scheme.label} certificate {certificate.number}",
    )


@facility_group.command("suspend")
@click.argument("facility_code", metavar="FACILITY")
@click.option("--reason", required=True, help="Why the facility is suspended.")
@json_option
@pass_ctx
def suspend(ctx: CliContext, facility_code: str, reason: str, as_json: bool) -> None:
    """Suspend FACILITY: it can no longer register lots or be issued stamps."""
    with ctx.write() as session:
        facility = registry.suspend_facility(session, facility_code, reason=reason)
        record = registry.facility_record(facility)
    emit(
        record,
        as_json=as_json,
        columns=COLUMNS,
        message=f"suspended facility {facility.code}",
    )


@facility_group.command("suspend-certificate")
@click.option("--scheme", required=True, help="vietgap, globalgap, organic, haccp or other.")
@click.option("--number", required=True, help="Certificate number.")
@click.option("--reason", required=True, help="Why the certificate is suspended.")
@json_option
@pass_ctx
def suspend_certificate(
    ctx: CliContext, scheme: str, number: str, reason: str, as_json: bool
) -> None:
    """Suspend a certificate: it no longer backs certified claims or new lots."""
    with ctx.write() as session:
        certificate = registry.suspend_certificate(
            session, scheme=scheme, number=number, reason=reason
        )
        record = registry.certificate_record(certificate)
    emit(
        record,
        as_json=as_json,
        columns=("id", "facility", "scheme", "number", "status"),
        message=f"suspended certificate {certificate.number}",
    )


@facility_group.command("list")
@json_option
@pass_ctx
def list_(ctx: CliContext, as_json: bool) -> None:
    """List facilities."""
    with ctx.session() as session:
        records = [registry.facility_record(f) for f in registry.list_facilities(session)]
        emit(records, as_json=as_json, columns=COLUMNS)


def register(group: click.Group) -> None:
    group.add_command(facility_group)
