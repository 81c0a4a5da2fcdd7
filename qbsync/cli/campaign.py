"""`qbsync campaign create | export | list | report | followup | segments | dunning`: outreach."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qbsync.cli.choices import choice
from qbsync.cli.context import CommandContext, with_context
from qbsync.cli.options import Output, bom_option, with_output
from qbsync.cli.outreach import dunning_options, mark_sent_options, record_batch
from qbsync.errors import InputError

if TYPE_CHECKING:
    from qbsync.campaigns.rfm import RfmConfig
    from qbsync.campaigns.segments import SegmentDef


def _segment(segments_file: Path | None, segment: str | None, kind: str | None,
             where: tuple[str, ...]) -> tuple[SegmentDef, RfmConfig]:
    from qbsync.campaigns import segments
    from qbsync.campaigns.rfm import RfmConfig

    rfm = RfmConfig()
    if segments_file is not None:
        loaded = segments.load_file(segments_file)
        rfm = loaded.rfm
        if segment is not None:
            if segment not in loaded.segments:
                raise InputError(f"no segment {segment!r} in {segments_file}",
                                 hint=f"choose one of: {', '.join(sorted(loaded.segments))}")
            if where:
                raise InputError("--where cannot change a segment from a file",
                                 hint="edit the file, or define the segment with --kind and --where")
            return loaded.segments[segment], rfm
    if kind is None:
        raise InputError("no segment given",
                         hint="pass --segments-file FILE --segment NAME, "
                              "or --kind KIND [--where KEY=VALUE ...]")
    return segments.from_command_line(kind, list(where), segment), rfm


def segment_options(f: click.decorators.FC) -> click.decorators.FC:
    f = click.option("--where", multiple=True, metavar="KEY=VALUE",
                     help="A parameter or filter of --kind (repeatable), e.g. ltv_min=500.")(f)
    f = click.option("--kind", type=choice("qbsync.campaigns.segments", "KINDS"),
                     help="Define the segment on the command line.")(f)
    f = click.option("--segment", help="Segment name (from --segments-file, or a name for --kind).")(f)
    f = click.option("--segments-file", type=click.Path(dir_okay=False, path_type=Path),
                     help="TOML file of segments (see config/segments.example.toml).")(f)
    return f


@click.group("campaign")
def campaign_group() -> None:
    """Segments, win-back campaigns with a control group, outreach exports and dunning lists."""


@campaign_group.command("segments")
@segment_options
@with_context()
@with_output()
def segments_cmd(ctx: CommandContext, segments_file: Path | None, segment: str | None, kind: str | None,
                 where: tuple[str, ...], out: Output) -> None:
    """List the segments of a file with their sizes, or the members of one segment."""
    from qbsync.campaigns import segments
    from qbsync.reports.table import Column, Table

    if segments_file is not None and segment is None and kind is None:
        loaded = segments.load_file(segments_file)
        rows = [{"name": s.name, "kind": s.kind, "members": len(segments.evaluate(ctx.engine, ctx.realm_id, s,
                                                                                  ctx.as_of, loaded.rfm)),
                 "description": s.description} for s in loaded.segments.values()]
        out.table(Table(f"Segments in {segments_file} as of {ctx.as_of}",
                   [Column("name", "Segment"), Column("kind", "Kind"), Column("members", "Members", "int"),
                    Column("description", "Description")], rows))
        return
    seg, rfm = _segment(segments_file, segment, kind, where)
    members = segments.evaluate(ctx.engine, ctx.realm_id, seg, ctx.as_of, rfm)
    rows = [{"customer_id": m.customer_id, "name": m.name, "last_purchase": m.activity.last_purchase,
             "ltv": m.activity.lifetime_revenue, "balance": m.activity.open_balance, "reason": m.reason}
            for m in members]
    out.table(Table(f"Segment {seg.name} ({seg.kind}) as of {ctx.as_of}: {len(rows)} customers",
               [Column("customer_id", "Id"), Column("name", "Customer"),
                Column("last_purchase", "Last purchase", "date"), Column("ltv", "Lifetime value", "money"),
                Column("balance", "Balance", "money"), Column("reason", "Why")], rows))


@campaign_group.command("create")
@click.argument("name")
@segment_options
@click.option("--control", "control_share", default="0.10", show_default=True,
              help="Share of members held back as the control group.")
@click.option("--seed", type=int, help="Seed of the control draw (default: random, recorded).")
@with_context()
def create_cmd(ctx: CommandContext, name: str, segments_file: Path | None, segment: str | None,
               kind: str | None, where: tuple[str, ...], control_share: str, seed: int | None) -> None:
    """Freeze a segment's members at --as-of as campaign NAME, holding back a random control group."""
    from qbsync.campaigns import campaign

    seg, rfm = _segment(segments_file, segment, kind, where)
    try:
        share = Decimal(control_share)
    except ArithmeticError:
        raise InputError(f"--control {control_share!r} is not a number", hint="e.g. --control 0.1") from None
    camp = campaign.create(ctx.engine, ctx.realm_id, name, seg, ctx.as_of, ctx.clock, control_share=share,
                           seed=seed, rfm=rfm)
    click.echo(f"campaign {camp.name}: {camp.members} members frozen on {camp.as_of} "
               f"({camp.members - camp.controls} to contact, {camp.controls} held back as control, "
               f"seed {camp.seed}). Next: `qbsync campaign export {camp.name} --dir DIR`.")


@campaign_group.command("export")
@click.argument("name")
@click.option("--dir", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Directory for the files.")
@click.option("--to", "fmt", type=choice("qbsync.campaigns.exports", "FORMATS"), default="generic",
              show_default=True, help="Format of the marketing list.")
@click.option("--do-not-contact", type=click.Path(dir_okay=False, path_type=Path),
              help="File of emails, id:N and phone numbers never to contact (one per line).")
@click.option("--include-balance", is_flag=True,
              help="Keep customers with an open balance on the marketing list (default: collections list).")
@bom_option()
@click.option("--mark-sent", is_flag=True,
              help="Record the lists as sent now (otherwise: `qbsync sent BATCH` once they went out).")
@with_context()
def export_cmd(ctx: CommandContext, name: str, out_dir: Path, fmt: str, do_not_contact: Path | None,
               include_balance: bool, bom: bool, mark_sent: bool) -> None:
    """Write the campaign's marketing list, call list and collections list into --dir (created if missing).

    Mailchimp and HubSpot lists are for their importers (phone numbers in E.164, nothing added);
    the generic, call and collections lists are for a spreadsheet (formula-safe; --bom for Excel).
    """
    from qbsync.campaigns import exports

    res = exports.export(ctx.engine, ctx.realm_id, name, out_dir, ctx.clock, fmt=fmt,
                         do_not_contact=exports.DoNotContact.load(do_not_contact),
                         include_balance=include_balance, bom=bom,
                         as_of=ctx.as_of if ctx.as_of_given else None)
    for kind, path in res.files.items():
        click.echo(f"{kind:12} {res.rows[kind]:6} rows  {path}")
    click.echo(f"left out (do not contact): {res.excluded_do_not_contact}; "
               f"records merged into another row: {res.merged_records}")
    record_batch(ctx, "campaign", exports.outreach_items(res), f"campaign {name}: {fmt} list, call list, "
                 "collections list", {"command": "campaign export", "campaign": name, "format": fmt,
                                      "files": {k: str(v) for k, v in res.files.items()}},
                 mark_sent, campaign_id=res.campaign_id)


@campaign_group.command("list")
@with_context(as_of=False)
@with_output()
def list_cmd(ctx: CommandContext, out: Output) -> None:
    """Campaigns of this company."""
    from qbsync.campaigns import campaign
    from qbsync.reports.table import Column, Table

    rows = [{"name": c.name, "segment": c.segment, "as_of": c.as_of, "members": c.members,
             "controls": c.controls, "seed": str(c.seed)}
            for c in campaign.campaigns(ctx.engine, ctx.realm_id)]
    cols = [Column("name", "Name"), Column("segment", "Segment"), Column("as_of", "Date", "date"),
            Column("members", "Members", "int"), Column("controls", "Control", "int"), Column("seed", "Seed")]
    out.table(Table("Campaigns", cols, rows))


@campaign_group.command("report")
@click.argument("name")
@with_context(as_of="Measure returns up to DATE (default: today in the company's time zone).")
@with_output()
def report_cmd(ctx: CommandContext, name: str, out: Output) -> None:
    """Who came back since the campaign: contacted vs control, revenue, lift with a 95% interval."""
    from qbsync.campaigns import campaign

    rep = campaign.report(ctx.engine, ctx.realm_id, name, ctx.as_of)
    if out.fmt == "json":
        import json

        out.write(json.dumps(rep.as_dict(), indent=2) + "\n")
        return
    if out.fmt == "csv":
        groups = [{"group": g.group, "members": g.members, "returned": g.returned, "rate": g.rate,
                   "revenue": g.revenue, "revenue_per_member": g.revenue_per_member,
                   "median_days_to_return": g.median_days_to_return} for g in (rep.contacted, rep.control)]
        out.rows(list(groups[0]), groups)
        return
    lines = [f"campaign {name}: members frozen {rep.campaign.as_of}, measured to {rep.as_of}"]
    for g in (rep.contacted, rep.control):
        days = "-" if g.median_days_to_return is None else f"{g.median_days_to_return:.0f}"
        lines.append(f"  {g.group:10} {g.returned:6} of {g.members:6} came back ({g.rate:6.1%}); "
                     f"revenue {g.revenue:.2f} ({g.revenue_per_member:.2f} per member); median {days} days")
    low, high = rep.lift_interval
    lines.append(f"  lift       {rep.lift:+.1%} points (95% CI {low:+.1%} to {high:+.1%})")
    if rep.ratio is not None and rep.ratio_interval is not None:
        lines.append(f"  ratio      {rep.ratio:.2f}x (95% CI {rep.ratio_interval[0]:.2f} to "
                     f"{rep.ratio_interval[1]:.2f})")
    if rep.reached:
        lines.append(f"  reached    {len(rep.reached):6} contacted members in batches marked sent; "
                     f"{len(rep.responded)} bought again since they were reached "
                     f"({len(rep.responded) / len(rep.reached):.1%})")
    else:
        lines.append("  reached    none recorded yet (mark the export sent: `qbsync sent BATCH`)")
    if rep.control.members == 0:
        lines.append("  no control group: the lift cannot be measured against doing nothing")
    out.write("\n".join(lines) + "\n")


@campaign_group.command("followup")
@click.argument("name")
@mark_sent_options("email")
@with_context()
@with_output()
def followup_cmd(ctx: CommandContext, name: str, mark_sent: bool, channel: str, out: Output) -> None:
    """Contacted members who have not bought again yet: the list for the next touch.

    Written to a file (-o) or with --mark-sent, the list is recorded in the customer file as a
    follow-up of the campaign (`qbsync sent BATCH` once it went out); on the terminal it is a preview."""
    from qbsync.campaigns import campaign
    from qbsync.customers.outreach import ItemSpec
    from qbsync.reports.table import Column, Table

    camp = campaign.get(ctx.engine, ctx.realm_id, name)
    rows = [{"customer_id": m.customer_id, "name": m.display_name, "last_purchase": m.last_purchase,
             "ltv": m.lifetime_value, "reason": m.reason}
            for m in campaign.followup(ctx.engine, ctx.realm_id, name, ctx.as_of)]
    out.table(Table(f"Not back yet from {name} as of {ctx.as_of}: {len(rows)}",
               [Column("customer_id", "Id"), Column("name", "Customer"),
                Column("last_purchase", "Last purchase", "date"), Column("ltv", "Lifetime value", "money"),
                Column("reason", "Why in the campaign")], rows))
    if out.path is not None or mark_sent:
        file = str(out.path) if out.path is not None else None
        items = [ItemSpec(str(r["customer_id"]), "campaign", channel, "followup",
                          {"list": "followup", "file": file}) for r in rows]
        record_batch(ctx, "campaign", items, f"campaign {name}: follow-up list "
                     f"{out.path.name if out.path is not None else '(terminal)'}",
                     {"command": "campaign followup", "campaign": name, "file": file}, mark_sent,
                     campaign_id=camp.id)


@campaign_group.command("dunning")
@click.option("--stage", "stages", multiple=True, type=choice("qbsync.campaigns.dunning", "STAGES"),
              help="Only invoices in these aging stages (repeatable; default all).")
@dunning_options("Only customers due this letter (repeatable; default all).")
@mark_sent_options("email")
@with_context()
@with_output()
def dunning_cmd(ctx: CommandContext, within_days: int, stages: tuple[str, ...], letters: tuple[str, ...],
                min_gap_days: int, mark_sent: bool, channel: str, out: Output) -> None:
    """Invoices due soon or overdue, one row per invoice for a mail merge, with the letter each customer
    is due: reminder, first, second or final notice, one stage on from the last letter marked sent."""
    from qbsync.campaigns import dunning

    found = dunning.dunning_plan(ctx.engine, ctx.realm_id, ctx.as_of, within_days=within_days,
                                 min_gap_days=min_gap_days)
    chosen = letters or dunning.LETTERS
    rows = dunning.rows_of(found, stages or dunning.STAGES, chosen)
    out.table(dunning.table(rows, ctx.as_of, found))
    output = out.path
    if output is not None or mark_sent:
        listed = {r.customer_id for r in rows}
        items = [i for i in dunning.outreach_items(found, chosen, channel=channel,
                                                   files={c: str(output) for c in listed} if output else None)
                 if i.customer_id in listed]
        record_batch(ctx, "dunning", items, f"dunning list {output.name if output else '(terminal)'}",
                     {"command": "campaign dunning", "file": str(output) if output else None,
                      "letters": list(chosen)}, mark_sent)


def register(cli: click.Group) -> None:
    cli.add_command(campaign_group)
