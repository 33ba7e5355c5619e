"""Load demo data: two teams of agents, customers known on several channels, mixed-channel tickets.

Idempotent: running it again changes nothing that is already there.
"""

from datetime import date, time

from django.contrib.auth import get_user_model
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand
from django.db import transaction

from customers import services as customer_services
from customers.models import ChannelKind, Customer, IdentityKind, Organization, Segment, Tag
from helpdesk import configuration
from helpdesk.events import importing_history
from helpdesk.models import (
    AgentProfile,
    AssignmentStrategy,
    AuthorType,
    BusinessHours,
    BusinessPeriod,
    Holiday,
    Inbox,
    Role,
    RoutingRule,
    SlaPolicy,
    SlaTarget,
    Team,
    Ticket,
    TicketStatus,
)
from helpdesk.services import tickets as ticket_services
from helpdesk.services.messages import post_message, record_event

DEMO_PASSWORD = "demo-pass-2026"

AGENTS = [
    # username, display name, role, teams, language
    ("admin", "Admin", Role.ADMIN, [], "en"),
    ("sato", "佐藤 美咲 (supervisor)", Role.SUPERVISOR, ["Tier 1", "Billing"], "ja"),
    ("aiko", "Aiko Tanaka", Role.AGENT, ["Tier 1"], "ja"),
    ("ben", "Ben Carter", Role.AGENT, ["Billing"], "en"),
]
INBOXES = [
    ("Support email", ChannelKind.EMAIL, "Tier 1"),
    ("Website chat", ChannelKind.CHAT, "Tier 1"),
    ("LINE official account", ChannelKind.LINE, "Tier 1"),
    ("Phone", ChannelKind.PHONE, "Tier 1"),
    ("Web form", ChannelKind.WEB_FORM, "Tier 1"),
    ("Billing email", ChannelKind.EMAIL, "Billing"),
]


class Command(BaseCommand):
    help = "Load demo agents, customers and tickets (idempotent)."

    def handle(self, *args, **options):
        # The demo conversations happened "in the past": nothing is sent to the fictional customers.
        with importing_history(), transaction.atomic():
            teams = self._teams()
            users = self._agents(teams)
            inboxes = self._inboxes(teams)
            customers = self._customers()
            self._service_levels(teams, users)
            if not Ticket.objects.filter(subject__startswith="[demo]").exists():
                self._tickets(users, inboxes, customers)
        # Other apps seed their part through their own `<app>_demo` commands (helpdesk imports none of them).
        for name in sorted(command for command in get_commands() if command.endswith("_demo")):
            call_command(name, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(
            f"  Log in at http://127.0.0.1:8000/login/ (password for every demo account: {DEMO_PASSWORD})"
        )
        for username, name, role, team_names, _ in AGENTS:
            teams_text = ", ".join(team_names) or "all teams"
            self.stdout.write(f"    {username:<7} {role:<10} {name} [{teams_text}]")
        self.stdout.write("    hanako  customer   田中 花子 (portal: her own requests)")
        self.stdout.write("  Admin: http://127.0.0.1:8000/admin/   API docs: http://127.0.0.1:8000/api/docs/")

    def _service_levels(self, teams: dict[str, Team], users: dict) -> None:
        """Tokyo office hours, an SLA policy, and routing that sends billing questions to Billing."""
        hours, created = BusinessHours.objects.get_or_create(name="Tokyo office", defaults={"time_zone": "Asia/Tokyo"})
        if created:
            BusinessPeriod.objects.bulk_create(
                BusinessPeriod(schedule=hours, weekday=day, start_time=time(9), end_time=time(18)) for day in range(5)
            )
            Holiday.objects.create(schedule=hours, date=date(2026, 12, 31), name="大晦日")
        Team.objects.filter(business_hours__isnull=True).update(business_hours=hours)
        Team.objects.filter(name="Tier 1").update(assignment_strategy=AssignmentStrategy.ROUND_ROBIN)
        configuration.changed()  # bulk writes send no signals
        policy, created = SlaPolicy.objects.get_or_create(name="Standard")
        if created:
            for priority, first, resolution in (
                ("urgent", 30, 240),
                ("high", 60, 480),
                ("normal", 240, 1440),
                ("low", 480, 2880),
            ):
                SlaTarget.objects.create(
                    policy=policy, priority=priority, first_response_minutes=first,
                    next_response_minutes=first * 2, resolution_minutes=resolution,
                )  # fmt: skip
        RoutingRule.objects.get_or_create(
            name="Billing questions",
            defaults={"keywords": "請求\n返金\ninvoice\nrefund\ncharged", "set_team": teams["Billing"],
                      "assign_by": AssignmentStrategy.LEAST_LOAD},
        )  # fmt: skip

    def _teams(self) -> dict[str, Team]:
        tier1, _ = Team.objects.get_or_create(name="Tier 1")
        billing, _ = Team.objects.get_or_create(name="Billing", defaults={"restrict_to_team_tickets": True})
        return {"Tier 1": tier1, "Billing": billing}

    def _user(self, username: str, **extra):
        user, created = get_user_model().objects.get_or_create(username=username, defaults=extra)
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        return user

    def _agents(self, teams: dict[str, Team]) -> dict:
        users = {}
        for username, name, role, team_names, language in AGENTS:
            admin = role == Role.ADMIN
            user = self._user(
                username, email=f"{username}@example.com", is_staff=admin or role == Role.SUPERVISOR, is_superuser=admin
            )
            profile, _ = AgentProfile.objects.get_or_create(
                user=user, defaults={"role": role, "display_name": name, "language": language}
            )
            profile.teams.add(*(teams[team] for team in team_names))
            users[username] = user
        return users

    def _inboxes(self, teams: dict[str, Team]) -> dict[str, Inbox]:
        return {
            name: Inbox.objects.get_or_create(name=name, defaults={"kind": kind, "team": teams[team]})[0]
            for name, kind, team in INBOXES
        }

    def _customer(self, name: str, identities: list[tuple[str, str]], language: str, organization=None, tags=()):
        kind, value = identities[0]
        customer = customer_services.identify_customer(
            kind=kind, value=value, name=name, language=language, verified=True
        ).customer
        for kind, value in identities[1:]:
            customer_services.add_identity(customer=customer, kind=kind, value=value, verified=True)
        if organization and customer.organization_id != organization.pk:
            customer_services.update_customer(customer=customer, organization=organization)
        customer.tags.add(*(Tag.objects.get_or_create(name=tag)[0] for tag in tags))
        return customer

    def _customers(self) -> dict[str, Customer]:
        acme, _ = Organization.objects.get_or_create(name="Acme Corp", defaults={"domains": "acme.example"})
        sample, _ = Organization.objects.get_or_create(
            name="株式会社サンプル", defaults={"domains": "sample.example.jp"}
        )
        hanako = self._customer(
            "田中 花子",
            [(IdentityKind.EMAIL, "hanako@sample.example.jp"), (IdentityKind.LINE, "U" + "4af4980629" * 3 + "ab"),
             (IdentityKind.PHONE, "090-1234-5678"), (IdentityKind.CHAT_VISITOR, "visitor-hanako-0001")],
            "ja", sample, tags=["vip"],
        )  # fmt: skip
        if hanako.user_id is None:
            Customer.objects.filter(pk=hanako.pk).update(user=self._user("hanako", email="hanako@sample.example.jp"))
        john = self._customer(
            "John Smith",
            [(IdentityKind.EMAIL, "john@acme.example"), (IdentityKind.CHAT_VISITOR, "visitor-john-0001")],
            "en", acme,
        )  # fmt: skip
        ichiro = self._customer(
            "鈴木 一郎",
            [(IdentityKind.LINE, "U" + "1234567890" * 3 + "cd"), (IdentityKind.PHONE, "+81 3-1234-5678")],
            "ja",
        )
        maria = self._customer("Maria Garcia", [(IdentityKind.EMAIL, "maria@example.org")], "en", tags=["vip"])
        Segment.objects.get_or_create(
            name="Japanese VIPs",
            defaults={"filters": {"tag": "vip", "language": "ja"}, "description": "For surveys in Japanese."},
        )
        return {"hanako": hanako, "john": john, "ichiro": ichiro, "maria": maria}

    def _tickets(self, users: dict, inboxes: dict[str, Inbox], customers: dict[str, Customer]) -> None:
        aiko, ben, sato = users["aiko"], users["ben"], users["sato"]

        # A chat that the bot started, handed to Aiko, continued by email and LINE, then solved.
        hanako = customers["hanako"]
        chat = ticket_services.open_ticket(
            inbox=inboxes["Website chat"],
            customer=hanako,
            subject="[demo] 注文した商品が届きません",
            status=TicketStatus.BOT,
        )
        ticket_services.receive_customer_message(
            ticket=chat, body_text="注文した商品がまだ届きません。注文番号は A-1029 です。"
        )
        post_message(
            ticket=chat,
            author_type=AuthorType.BOT,
            body_text="ご不便をおかけしております。配送状況の確認方法はこちらの記事をご覧ください: 「配送状況を確認する」",
        )
        ticket_services.receive_customer_message(ticket=chat, body_text="オペレーターと話したいです。")
        record_event(
            ticket=chat,
            event="handoff",
            text="Handed off to an agent: the customer asked for a person about order A-1029.",
            data={"reason": "customer_request"},
            is_public=True,
        )
        ticket_services.assign_ticket(ticket=chat, assignee=aiko, actor=aiko)
        ticket_services.reply(
            ticket=chat,
            agent=aiko,
            body_text="田中様、担当の田中です。配送業者に確認いたしますので少々お待ちください。",
        )
        ticket_services.add_internal_note(
            ticket=chat,
            agent=aiko,
            body_text="Carrier says the parcel is stuck at the Osaka depot. Asked for redelivery.",
        )
        ticket_services.reply(
            ticket=chat,
            agent=aiko,
            body_text="配送業者に再配達を依頼しました。明日のお届け予定です。",
            status=TicketStatus.PENDING,
        )
        ticket_services.receive_customer_message(
            ticket=chat, channel=ChannelKind.EMAIL, body_text="ありがとうございます。明日受け取れるか確認します。"
        )
        ticket_services.receive_customer_message(
            ticket=chat, channel=ChannelKind.LINE, body_text="届きました！ありがとうございました。"
        )
        ticket_services.reply(
            ticket=chat,
            agent=aiko,
            channel=ChannelKind.LINE,
            body_text="お届けできてよかったです。またいつでもご連絡ください。",
            status=TicketStatus.SOLVED,
        )

        # An email from John, assigned and waiting for an answer.
        john = customers["john"]
        email = ticket_services.open_ticket(
            inbox=inboxes["Support email"], customer=john, subject="[demo] Cannot reset my password"
        )
        ticket_services.receive_customer_message(
            ticket=email, body_html="<p>Hi,</p><p>The reset link says <b>expired</b> every time.</p>"
        )
        ticket_services.assign_ticket(ticket=email, assignee=aiko, actor=sato)
        ticket_services.update_ticket(ticket=email, actor=sato, priority="high", tags=["login"])

        # A billing question only the Billing team (restricted) sees, waiting on the customer.
        billing = ticket_services.open_ticket(
            inbox=inboxes["Billing email"], customer=customers["maria"], subject="[demo] Charged twice in October"
        )
        ticket_services.receive_customer_message(
            ticket=billing, body_text="I see two charges of $49 on my card for October."
        )
        ticket_services.assign_ticket(ticket=billing, assignee=ben, actor=ben)
        ticket_services.add_internal_note(
            ticket=billing, agent=ben, body_text="Payment provider shows one refund pending."
        )
        ticket_services.reply(
            ticket=billing,
            agent=ben,
            body_text="One charge is being refunded. Can you confirm the last 4 digits of the card?",
            status=TicketStatus.PENDING,
        )

        # A phone call, logged and solved on the spot.
        ichiro = customers["ichiro"]
        call = ticket_services.open_ticket(inbox=inboxes["Phone"], customer=ichiro, subject="[demo] 請求書の宛名変更")
        ticket_services.receive_customer_message(
            ticket=call, body_text="(電話) 請求書の宛名を会社名に変更したい。", external_id="call-20261120-0001"
        )
        ticket_services.reply(
            ticket=call,
            agent=aiko,
            body_text="宛名を変更しました。次回の請求書から反映されます。",
            status=TicketStatus.SOLVED,
        )

        # A new LINE message nobody has picked up yet.
        line = ticket_services.open_ticket(
            inbox=inboxes["LINE official account"], customer=ichiro, subject="[demo] ポイントの有効期限"
        )
        ticket_services.receive_customer_message(
            ticket=line, body_text="ポイントの有効期限を教えてください。", external_id="line-demo-0001"
        )
