# Business hours, SLA policies and clocks, routing rules and the round-robin cursor.

import datetime
import django.core.validators
import django.db.models.deletion
import helpdesk.models.business_hours
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0002_segment_filters_blank'),
        ('helpdesk', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='BusinessHours',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=120, unique=True)),
                ('time_zone', models.CharField(default='UTC', help_text='IANA time zone the periods and holidays are in, e.g. Asia/Tokyo or America/New_York.', max_length=64, validators=[helpdesk.models.business_hours.validate_time_zone])),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'verbose_name_plural': 'business hours',
                'ordering': ['name'],
            },
        ),
        migrations.AddField(
            model_name='team',
            name='assignment_strategy',
            field=models.CharField(choices=[('none', 'Leave in the team queue'), ('round_robin', 'Round robin'), ('least_load', 'Least load')], default='none', help_text='How routed tickets get an agent of this team, unless the routing rule says otherwise.', max_length=16),
        ),
        migrations.AlterField(
            model_name='agentprofile',
            name='capacity',
            field=models.PositiveSmallIntegerField(default=5, help_text='Automatic assignment stops once this many new, open or pending tickets are theirs.'),
        ),
        migrations.AddField(
            model_name='inbox',
            name='business_hours',
            field=models.ForeignKey(blank=True, help_text="SLA clocks of this inbox's tickets count these hours; none falls back to the team's, then 24/7.", null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='inboxes', to='helpdesk.businesshours'),
        ),
        migrations.AddField(
            model_name='team',
            name='business_hours',
            field=models.ForeignKey(blank=True, help_text="SLA clocks of the team's tickets count these hours (an inbox's own schedule wins); none is 24/7.", null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='teams', to='helpdesk.businesshours'),
        ),
        migrations.CreateModel(
            name='RoutingRule',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=120)),
                ('position', models.PositiveIntegerField(default=0, help_text='Lower positions are tried first.')),
                ('is_active', models.BooleanField(default=True)),
                ('channel', models.CharField(blank=True, choices=[('email', 'Email'), ('web_form', 'Web form'), ('chat', 'Live chat'), ('line', 'LINE'), ('phone', 'Phone'), ('social', 'Social messaging'), ('api', 'API')], max_length=16)),
                ('language', models.CharField(blank=True, choices=[('en', 'English'), ('ja', 'Japanese')], help_text="The customer's preferred language.", max_length=8)),
                ('keywords', models.TextField(blank=True, help_text='Comma- or line-separated. Matches when any of them appears in the subject or the first message, ignoring case and full-width/half-width differences (返金, refund).')),
                ('set_priority', models.CharField(blank=True, choices=[('low', 'Low'), ('normal', 'Normal'), ('high', 'High'), ('urgent', 'Urgent')], max_length=8)),
                ('assign_by', models.CharField(blank=True, choices=[('none', 'Leave in the team queue'), ('round_robin', 'Round robin'), ('least_load', 'Least load')], help_text="How to pick an agent of the team when nobody is assigned; blank uses the team's strategy.", max_length=16)),
                ('stop_processing', models.BooleanField(default=True, help_text='Stop at this rule when it matches.')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('add_tags', models.ManyToManyField(blank=True, related_name='+', to='customers.tag')),
                ('assign_to', models.ForeignKey(blank=True, help_text="A specific agent (a member of the ticket's team, if it has one).", limit_choices_to={'agent_profile__isnull': False}, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('customer_tag', models.ForeignKey(blank=True, help_text='The customer has this tag.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='customers.tag')),
                ('inbox', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='helpdesk.inbox')),
                ('organization', models.ForeignKey(blank=True, help_text='The customer belongs to this organization.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='customers.organization')),
                ('set_team', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='helpdesk.team')),
            ],
            options={
                'ordering': ['position', 'id'],
            },
        ),
        migrations.CreateModel(
            name='SlaPolicy',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=120, unique=True)),
                ('is_active', models.BooleanField(default=True)),
                ('near_breach_percent', models.PositiveSmallIntegerField(default=20, help_text='A target is near breach once less than this share of it is left.', validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(99)])),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('inbox', models.ForeignKey(blank=True, help_text='Only tickets of this inbox (blank: any inbox).', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='sla_policies', to='helpdesk.inbox')),
                ('team', models.ForeignKey(blank=True, help_text='Only tickets of this team (blank: any team).', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='sla_policies', to='helpdesk.team')),
            ],
            options={
                'verbose_name': 'SLA policy',
                'verbose_name_plural': 'SLA policies',
                'ordering': ['name'],
            },
        ),
        migrations.CreateModel(
            name='TeamAssignmentCursor',
            fields=[
                ('team', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='assignment_cursor', serialize=False, to='helpdesk.team')),
                ('last_assigned_at', models.DateTimeField(blank=True, null=True)),
                ('last_assignee', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'team assignment cursor',
            },
        ),
        migrations.CreateModel(
            name='BusinessPeriod',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('weekday', models.PositiveSmallIntegerField(choices=[(0, 'Monday'), (1, 'Tuesday'), (2, 'Wednesday'), (3, 'Thursday'), (4, 'Friday'), (5, 'Saturday'), (6, 'Sunday')])),
                ('start_time', models.TimeField()),
                ('end_time', models.TimeField(help_text='00:00 means midnight at the end of the day.')),
                ('schedule', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='periods', to='helpdesk.businesshours')),
            ],
            options={
                'ordering': ['schedule', 'weekday', 'start_time'],
                'constraints': [models.CheckConstraint(condition=models.Q(('weekday__lte', 6), models.Q(('start_time__lt', models.F('end_time')), ('end_time', datetime.time(0, 0)), _connector='OR')), name='business_period_starts_before_it_ends')],
            },
        ),
        migrations.CreateModel(
            name='Holiday',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('date', models.DateField()),
                ('name', models.CharField(blank=True, max_length=120)),
                ('schedule', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='holidays', to='helpdesk.businesshours')),
            ],
            options={
                'ordering': ['schedule', 'date'],
                'constraints': [models.UniqueConstraint(fields=('schedule', 'date'), name='holiday_unique_schedule_date')],
            },
        ),
        migrations.CreateModel(
            name='SlaTarget',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('priority', models.CharField(choices=[('low', 'Low'), ('normal', 'Normal'), ('high', 'High'), ('urgent', 'Urgent')], max_length=8)),
                ('first_response_minutes', models.PositiveIntegerField(blank=True, null=True, validators=[django.core.validators.MinValueValidator(1)])),
                ('next_response_minutes', models.PositiveIntegerField(blank=True, null=True, validators=[django.core.validators.MinValueValidator(1)])),
                ('resolution_minutes', models.PositiveIntegerField(blank=True, null=True, validators=[django.core.validators.MinValueValidator(1)])),
                ('policy', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='targets', to='helpdesk.slapolicy')),
            ],
            options={
                'verbose_name': 'SLA target',
                'ordering': ['policy', 'priority'],
                'constraints': [models.UniqueConstraint(fields=('policy', 'priority'), name='sla_target_unique_priority')],
            },
        ),
        migrations.CreateModel(
            name='TicketSla',
            fields=[
                ('ticket', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='sla', serialize=False, to='helpdesk.ticket')),
                ('first_response_minutes', models.PositiveIntegerField(blank=True, null=True)),
                ('next_response_minutes', models.PositiveIntegerField(blank=True, null=True)),
                ('resolution_minutes', models.PositiveIntegerField(blank=True, null=True)),
                ('near_breach_percent', models.PositiveSmallIntegerField(default=20)),
                ('clock', models.CharField(choices=[('running', 'Running'), ('paused', 'Paused (pending, or with the bot)'), ('stopped', 'Stopped (solved or closed)')], max_length=8)),
                ('elapsed', models.DurationField(default=datetime.timedelta)),
                ('elapsed_until', models.DateTimeField()),
                ('next_response_from', models.DurationField(blank=True, help_text='The count when the oldest unanswered customer message arrived.', null=True)),
                ('first_response_met_at', models.DateTimeField(blank=True, null=True)),
                ('resolution_met_at', models.DateTimeField(blank=True, null=True)),
                ('first_response_due_at', models.DateTimeField(blank=True, null=True)),
                ('next_response_due_at', models.DateTimeField(blank=True, null=True)),
                ('resolution_due_at', models.DateTimeField(blank=True, null=True)),
                ('first_response_breached', models.BooleanField(default=False)),
                ('next_response_breached', models.BooleanField(default=False)),
                ('resolution_breached', models.BooleanField(default=False)),
                ('first_response_near_breach', models.BooleanField(default=False)),
                ('next_response_near_breach', models.BooleanField(default=False)),
                ('resolution_near_breach', models.BooleanField(default=False)),
                ('next_check_at', models.DateTimeField(blank=True, help_text='When the breach task looks at this clock next.', null=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('business_hours', models.ForeignKey(blank=True, help_text='The schedule the clock counts in; blank is 24/7.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='helpdesk.businesshours')),
                ('policy', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='helpdesk.slapolicy')),
            ],
            options={
                'verbose_name': 'ticket SLA',
                'indexes': [models.Index(fields=['clock', 'next_check_at'], name='ticket_sla_next_check')],
            },
        ),
    ]
