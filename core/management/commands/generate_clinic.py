"""A large, realistic clinic for the benchmarks, reproducible from a seed, loaded with COPY.

    manage.py generate_clinic --scale 0.1 --seed 1 [--force]

At --scale 1.0: 10 practitioners, 8 rooms, 3 shared devices (never scaled), 100,000 patients,
1,000,000 sessions over five years (ending two months ahead), 2,000,000 photos with three
ready derivatives each, a screening per course, a comparison per course with photos, and an
audit event per course and per booked or completed session, hash-chained like the real ones.

The big tables are written with PostgreSQL COPY from CSV buffers made in chunks, bypassing
the ORM (minutes, not hours). The rows follow the models' rules: statuses match the dates
(past: completed, some cancelled or no-show; ahead: booked on a non-overlapping grid with
their reservations, the rest planned), sessions are numbered 1..n per course, photos belong to
completed sessions, every derivative points at one of a few real image files made once.
Originals' storage keys must be unique, so they name files that do not exist: the benchmarks
read derivatives, as the pages do.

Fixed rows for the benchmarks, the same at every scale, in pairs 10x apart so that growth
is measured with content that grows:
- patient 1 ("Chart Bench", portal account `bench-patient`): 60 sessions and 300 photos;
  patient 2 ("Chart Large", portal account `bench-patient-large`): 600 sessions and 3,000
  photos. Each has its last courses running (1 and 10 of them), with sessions ahead.
- the bench week (Monday to Friday around the bench day, the first Tuesday at least a week
  ahead) is full: 128 booked sessions a day, 8 of the 10 practitioners in every half hour;
  the quiet week after it has 13 a day and is otherwise free (the availability benchmark
  searches it).
`bench-desk` is a front-desk user. The days are found again from patient 1's created_at
(`bench_days`), so a clinic generated yesterday is read the same way today.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import random
import time
import uuid

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from audit.models import GENESIS_HASH, AuditChainHead, AuditEvent, chain_hmac
from people.matching import folded_name, phone_e164
from people.models import Patient
from photos.models import DERIVATIVE_VERSION, Comparison, Derivative, Photo
from scheduling.models import (
    Booking,
    Device,
    ModalityRequirement,
    Practitioner,
    Reservation,
    Room,
    WorkingHours,
)
from treatments.models import BodyArea, DepthLevel, Modality, Screening, Session, TreatmentPlan

FULL = {"patients": 100_000, "sessions": 1_000_000, "photos": 2_000_000}
PRACTITIONERS, ROOMS, DEVICES = 10, 8, 3
CHART_SESSIONS, CHART_PHOTOS = 60, 300  # patient 1; patient 2 has GROWTH times as much
GROWTH = 10
SESSIONS_PER_CHART_COURSE = 10
BENCH_PATIENTS = {  # id: (names, portal account, sessions, photos, courses running)
    1: ("Chart", "Bench", "bench-patient", CHART_SESSIONS, CHART_PHOTOS, 1),
    2: (
        "Chart",
        "Large",
        "bench-patient-large",
        GROWTH * CHART_SESSIONS,
        GROWTH * CHART_PHOTOS,
        GROWTH,
    ),
}
BENCH_SESSIONS = sum(spec[3] for spec in BENCH_PATIENTS.values())
BENCH_PHOTOS = sum(spec[4] for spec in BENCH_PATIENTS.values())
QUIET_BOOKINGS = 13  # a quiet day's bookings; a full day has 128, about GROWTH times as many
DAY_START, SLOT_MINUTES, SLOTS_PER_DAY = dt.time(9), 30, 16  # 09:00-17:00
HISTORY_DAYS, AHEAD_DAYS = 5 * 365, 60
CHUNK = 50_000
IMAGES = 4  # real image files, reused by every photo
FIRST_NAMES = [
    "Anna",
    "Bram",
    "Carla",
    "Daan",
    "Eva",
    "Femke",
    "Gijs",
    "Hanna",
    "Ilse",
    "Joris",
    "Kim",
    "Lotte",
    "Maud",
    "Noor",
    "Olaf",
]
LAST_NAMES = [
    "Bakker",
    "Jansen",
    "Visser",
    "Smit",
    "Meijer",
    "Mulder",
    "Bos",
    "Vos",
    "Peters",
    "Dekker",
    "Brouwer",
    "Kok",
]

# Tables the generator fills; --force empties them (with everything that refers to them).
TABLES = [
    AuditEvent,
    Reservation,
    Booking,
    Derivative,
    Comparison,
    Photo,
    Screening,
    Session,
    TreatmentPlan,
    Patient,
]


def _csv_value(value) -> str:
    if value is None:
        return r"\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


class Copier:
    """COPY rows into a model's table: the given columns, the others at their constant default."""

    def __init__(self, model, columns: list[str]):
        fields = {f.attname: f for f in model._meta.concrete_fields}
        unknown = set(columns) - set(fields)
        if unknown:
            raise CommandError(f"{model.__name__} has no field {sorted(unknown)}")
        self.constants = []
        for attname, field in fields.items():
            if attname in columns or field.primary_key:
                continue
            if field.unique and not field.primary_key:
                raise CommandError(f"{model.__name__}.{attname} is unique: give it per row")
            default = field.get_default() if field.has_default() else None
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                default = timezone.now()
            if default is None and not field.null:
                default = ""
            self.constants.append((field.column, _csv_value(default)))
        self.model = model
        self.columns = [fields[c].column for c in columns]
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\n")
        self.rows = 0
        self.pending = 0
        self.constant_values = [value for _, value in self.constants]

    def add(self, *values) -> None:
        self.writer.writerow([_csv_value(v) for v in values] + self.constant_values)
        self.pending += 1
        if self.pending >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        columns = ", ".join(f'"{c}"' for c in self.columns + [c for c, _ in self.constants])
        self.buffer.seek(0)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(
                f'COPY "{self.model._meta.db_table}" ({columns}) '
                "FROM STDIN WITH (FORMAT csv, NULL '\\N')",
                self.buffer,
            )
        self.rows += self.pending
        self.pending = 0
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\n")


def audit_hash(fields: dict) -> str:
    """As AuditEvent.canonical()/compute_hash(), keyed the same (checked by the test with
    audit_verify)."""
    return chain_hmac(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode())


def bench_day(today: dt.date) -> dt.date:
    """The first Tuesday at least a week ahead: the fully booked day the benchmarks load."""
    day = today + dt.timedelta(days=7)
    while day.weekday() != 1:
        day += dt.timedelta(days=1)
    return day


def bench_days(today: dt.date) -> dict[str, dt.date]:
    """The days the benchmarks load, for a clinic generated on `today`: the full bench day and
    its week's Monday, the quiet day (a week later) and its Monday."""
    full = bench_day(today)
    quiet = full + dt.timedelta(days=7)
    return {
        "full_day": full,
        "full_week": full - dt.timedelta(days=full.weekday()),
        "quiet_day": quiet,
        "quiet_week": quiet - dt.timedelta(days=quiet.weekday()),
    }


class Command(BaseCommand):
    help = "Generate a large clinic for the benchmarks (PostgreSQL only, COPY)."

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=float, default=1.0, help="1.0 = full size")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--force", action="store_true", help="empty the clinic tables first")

    def handle(self, *args, scale: float, seed: int, force: bool, **options):
        if connection.vendor != "postgresql":
            raise CommandError(
                "generate_clinic needs PostgreSQL (it loads with COPY); this database is "
                f"{connection.vendor}. Set DATABASE_URL=postgres://..."
            )
        if scale <= 0:
            raise CommandError("--scale must be above 0.")
        if Patient.objects.exists() or Session.objects.exists():
            if not force:
                raise CommandError(
                    "The database already holds patients or sessions; use --force to empty "
                    "the clinic tables and generate again."
                )
            self._empty()
        started = time.monotonic()
        generator = Generator(scale=scale, seed=seed, log=self.stdout.write)
        with transaction.atomic():
            counts = generator.run()
        with connection.cursor() as cursor:
            for model in TABLES:
                cursor.execute(f'ANALYZE "{model._meta.db_table}"')
            # As production is told to (README, "Database"): the data is cached or on SSD, so
            # an index lookup costs little more than a sequential read. With the server's
            # default (4) the calendars joined a few hundred sessions to their patients and
            # plans by reading both tables whole (25-40 ms) instead of by key.
            name = connection.ops.quote_name(connection.settings_dict["NAME"])
            cursor.execute(f"ALTER DATABASE {name} SET random_page_cost = 1.1")
        seconds = time.monotonic() - started
        summary = ", ".join(f"{name} {count:,}" for name, count in counts.items())
        self.stdout.write(f"Generated at scale {scale} (seed {seed}) in {seconds:.1f} s: {summary}")

    def _empty(self) -> None:
        tables = ", ".join(f'"{m._meta.db_table}"' for m in TABLES)
        with connection.cursor() as cursor:
            if not connection.get_autocommit():  # deferred checks would block TRUNCATE
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {tables} CASCADE")
            if not connection.get_autocommit():  # rows may again name rows copied after them
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        AuditChainHead.objects.all().delete()


class Generator:
    def __init__(self, *, scale: float, seed: int, log=print):
        self.scale = scale
        self.rng = random.Random(seed)
        self.log = log
        self.now = timezone.now()
        self.today = timezone.localdate()
        self.tz = timezone.get_current_timezone()
        self.n_patients = max(len(BENCH_PATIENTS) + 1, round(FULL["patients"] * scale))
        self.n_sessions = max(BENCH_SESSIONS + 20, round(FULL["sessions"] * scale))
        self.n_photos = max(BENCH_PHOTOS + 20, round(FULL["photos"] * scale))
        self.counts: dict[str, int] = {}

    # -- small rows through the ORM ----------------------------------------------------------
    def setup(self) -> None:
        User = get_user_model()
        groups = {g.name: g for g in Group.objects.all()}
        # Courses of treatments: a consultation is one session, booked at the desk.
        self.modalities = list(
            Modality.objects.exclude(kind=Modality.Kind.CONSULTATION).order_by("id")
        )
        if not self.modalities:
            raise CommandError("The treatment catalogue is empty: run migrate first.")
        self.levels = {
            m.pk: list(DepthLevel.objects.filter(modality=m).order_by("rank"))
            for m in self.modalities
        }
        self.areas = list(BodyArea.objects.order_by("id"))
        rooms = [Room.objects.get_or_create(name=f"Bench room {n}")[0] for n in range(1, 9)]
        devices = [Device.objects.get_or_create(name=f"Bench device {n}")[0] for n in range(1, 4)]
        self.rooms, self.devices = rooms, devices
        self.device_for: dict[int, Device | None] = {}
        for index, modality in enumerate(self.modalities):
            requirement, _ = ModalityRequirement.objects.get_or_create(
                modality=modality,
                defaults={"device": devices[index % DEVICES] if index < DEVICES else None},
            )
            self.device_for[modality.pk] = requirement.device
        self.practitioners = []
        for n in range(1, PRACTITIONERS + 1):
            user, _ = User.objects.get_or_create(
                username=f"bench-prac-{n:02d}",
                defaults={
                    "first_name": FIRST_NAMES[n % len(FIRST_NAMES)],
                    "last_name": "Practitioner",
                },
            )
            if "Clinician" in groups:
                user.groups.add(groups["Clinician"])
            practitioner, created = Practitioner.objects.get_or_create(user=user)
            practitioner.modalities.add(*self.modalities)
            if created:
                WorkingHours.objects.bulk_create(
                    WorkingHours(
                        practitioner=practitioner, weekday=d, starts=DAY_START, ends=dt.time(17)
                    )
                    for d in range(5)
                )
            self.practitioners.append(user)
        self.desk, _ = User.objects.get_or_create(username="bench-desk")
        if "Front desk" in groups:
            self.desk.groups.add(groups["Front desk"])
        self.patient_users = {}
        for pid, (_, _, username, *_) in BENCH_PATIENTS.items():
            user, _ = User.objects.get_or_create(username=username)
            if "Patient" in groups:
                user.groups.add(groups["Patient"])
            self.patient_users[pid] = user
        self.images = self._images()

    def _images(self) -> list[dict]:
        """A few real originals and their derivatives, stored once; every photo reuses them."""
        from photos import imaging
        from photos.demo import VIEWS, synthetic_face

        images = []
        for n in range(IMAGES):
            data = synthetic_face(seed=n, spots=40 - 8 * n, view=VIEWS[n % 3])
            base = f"bench/images/{n}"
            sizes = {}
            for made in imaging.make_derivatives(data):
                key = f"{base}/{made.size}.jpg"
                if not default_storage.exists(key):
                    default_storage.save(key, ContentFile(made.data))
                sizes[made.size] = (key, made.width, made.height, len(made.data))
            if not default_storage.exists(f"{base}/original.jpg"):
                default_storage.save(f"{base}/original.jpg", ContentFile(data))
            images.append(
                {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)} | {"sizes": sizes}
            )
        return images

    # -- the big tables through COPY ---------------------------------------------------------
    def _at(self, day: dt.date, slot: int) -> dt.datetime:
        start = dt.datetime.combine(day, DAY_START, tzinfo=self.tz)
        return start + dt.timedelta(minutes=SLOT_MINUTES * slot)

    def run(self) -> dict[str, int]:
        self.setup()
        rng = self.rng
        t0 = time.monotonic()
        # With the columns Patient.save() derives (search and the duplicate check read them).
        patients = Copier(
            Patient,
            [
                "id", "user_id", "first_name", "last_name", "date_of_birth", "email", "phone",
                "name_folded", "phone_e164", "email_folded",
            ],
        )  # fmt: skip
        for pid in range(1, self.n_patients + 1):
            if pid in BENCH_PATIENTS:
                first, last = BENCH_PATIENTS[pid][:2]
                user = self.patient_users[pid].pk
            else:
                first, last, user = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), None
            born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(365 * 55))
            email, phone = f"p{pid}@example.test", f"06{pid:08d}"
            patients.add(
                pid, user, first, last, born, email, phone,
                folded_name(first, last), phone_e164(phone), email,
            )  # fmt: skip
        patients.flush()
        self.log(f"  patients {patients.rows:,} in {time.monotonic() - t0:.1f} s")

        # Future grid cells per day: (practitioner, slot, room), at most ROOMS practitioners at
        # a time so rooms are never double booked. The bench week's days are full and the quiet
        # week's hold QUIET_BOOKINGS: only the courses reserved for them (one course per cell,
        # the first ones after the bench patients') book there, each with its session on that
        # day, so both weeks look the same at every scale.
        days = bench_days(self.today)
        full_week = [days["full_week"] + dt.timedelta(days=n) for n in range(5)]
        quiet_week = [days["quiet_week"] + dt.timedelta(days=n) for n in range(5)]
        protected = set(full_week + quiet_week)
        cells: dict[dt.date, list[tuple[int, int, int]]] = {}
        for offset in range(0, AHEAD_DAYS + 1):
            day = self.today + dt.timedelta(days=offset)
            if day.weekday() >= 5:
                continue
            day_cells = []
            for slot in range(SLOTS_PER_DAY):
                if day in full_week:  # 8 of 10 at a time, each in their own room
                    working = [p for p in range(PRACTITIONERS) if (p + slot) % 5 != 0]
                else:
                    working = rng.sample(range(PRACTITIONERS), ROOMS)
                day_cells += [(p, slot, room) for room, p in enumerate(working)]
            rng.shuffle(day_cells)
            if day in quiet_week:
                day_cells = day_cells[:QUIET_BOOKINGS]
            cells[day] = day_cells
        anchors = [day for day in sorted(protected) for _ in cells[day]]
        chart_courses = [
            (pid, index >= spec[3] // SESSIONS_PER_CHART_COURSE - spec[5])  # (patient, running)
            for pid, spec in BENCH_PATIENTS.items()
            for index in range(spec[3] // SESSIONS_PER_CHART_COURSE)
        ]
        patient_slots: set[tuple[int, dt.date, int]] = set()  # one place at a time

        def take_cell(patient_id: int, day: dt.date, anchor: dt.date | None):
            """A free cell on the day (or the next weekday); None when the day is full or kept
            for the bench (only a reserved course's own session books there)."""
            while day.weekday() >= 5:
                day += dt.timedelta(days=1)
            if day in protected and day != anchor:
                return None
            day_cells = cells.get(day, [])
            for index in range(len(day_cells) - 1, -1, -1):
                p, slot, room = day_cells[index]
                if (patient_id, day, slot) not in patient_slots:
                    del day_cells[index]
                    patient_slots.add((patient_id, day, slot))
                    return p, day, slot, room
            return None

        plans = Copier(
            TreatmentPlan,
            [
                "id", "patient_id", "modality_id", "body_area_id", "session_count",
                "interval_days", "status", "created_by_id", "created_at",
            ],
        )  # fmt: skip
        sessions = Copier(
            Session,
            [
                "id", "plan_id", "patient_id", "number", "depth_level_id", "status",
                "proposed_date", "starts_at", "ends_at", "practitioner_id", "completed_at",
                "recorded_by_id", "performed_by_id", "completed_screening_id",
            ],
        )  # fmt: skip
        bookings = Copier(
            Booking,
            ["session_id", "room_id", "device_id", "booked_by_id", "booked_at", "cancelled_at"],
        )
        reservations = Copier(Reservation, ["session_id", "resource", "starts_at", "ends_at"])
        screenings = Copier(
            Screening,
            [
                "id", "patient_id", "plan_id", "modality_id", "body_area_id", "occasion",
                "screened_for", "outcome", "screened_by_id", "screened_at",
            ],
        )  # fmt: skip
        self.events: list[tuple] = []  # (occurred_at, actor_id, action, patient_id, type, id)
        completed: list[tuple] = []  # (session id, patient id, plan id, area id, starts_at)

        sid = 0
        plan_id = 0
        others = len(BENCH_PATIENTS) + 1  # the first patient id of the rest
        pid_cycle = others - 1
        total = self.n_sessions
        while sid < total:
            plan_id += 1
            index = plan_id - 1
            anchor = None
            if index < len(chart_courses):
                (patient_id, running), count = chart_courses[index], SESSIONS_PER_CHART_COURSE
            else:
                pid_cycle = pid_cycle + 1 if pid_cycle < self.n_patients else others
                patient_id = pid_cycle
                if index - len(chart_courses) < len(anchors):
                    anchor = anchors[index - len(chart_courses)]
                elif rng.random() < 0.3:
                    patient_id = rng.randint(others, self.n_patients)
                count = min(rng.choice((3, 4, 5, 6, 6, 8, 10, 12)), total - sid)
            modality = rng.choice(self.modalities)
            area = rng.choice(self.areas)
            interval = max(modality.default_interval_days, modality.min_interval_days, 7)
            if patient_id in BENCH_PATIENTS and running:  # half done, half ahead
                first = self.today - dt.timedelta(days=interval * (count // 2) - 1)
            elif patient_id in BENCH_PATIENTS:  # a finished history
                first = self.today - dt.timedelta(days=rng.randrange(400, HISTORY_DAYS - 300))
            elif anchor:  # one session on its reserved day
                first = anchor - dt.timedelta(days=interval * rng.randrange(count))
            else:
                first = self.today - dt.timedelta(days=rng.randrange(HISTORY_DAYS))
                first += dt.timedelta(days=AHEAD_DAYS - interval * count // 2)
            created = dt.datetime.combine(
                first - dt.timedelta(days=rng.randint(1, 20)), dt.time(10), tzinfo=self.tz
            )
            levels = self.levels[modality.pk]
            last_day = first + dt.timedelta(days=interval * (count - 1))
            plan_status = "completed" if last_day < self.today else "active"
            plans.add(
                plan_id, patient_id, modality.pk, area.pk, count, interval, plan_status,
                self.desk.pk, created,
            )  # fmt: skip
            # One screening per course, its id the course's: the course's completed sessions
            # name it as the screening they were completed under.
            screenings.add(
                plan_id, patient_id, plan_id, modality.pk, area.pk, "planning", first, "clear",
                self.desk.pk, created,
            )  # fmt: skip
            self.events.append(
                (created, self.desk.pk, "create", patient_id, "treatmentplan", plan_id)
            )
            device = self.device_for.get(modality.pk)
            for number in range(1, count + 1):
                sid += 1
                day = first + dt.timedelta(days=interval * (number - 1))
                level = levels[min(number - 1, len(levels) - 1)].pk if levels else None
                practitioner = self.practitioners[rng.randrange(PRACTITIONERS)].pk
                starts = ends = completed_at = recorded = None
                proposed = day
                room = None
                if day < self.today:
                    while day.weekday() >= 5:
                        day -= dt.timedelta(days=1)
                    starts = self._at(day, rng.randrange(SLOTS_PER_DAY))
                    roll = rng.random()
                    status = "completed" if roll < 0.9 else "cancelled"
                    if roll >= 0.95:
                        status = "no_show"
                    if status == "completed":
                        completed_at, recorded = starts + dt.timedelta(minutes=45), practitioner
                else:
                    cell = take_cell(patient_id, day, anchor)
                    if cell:
                        p, day, slot, room_index = cell
                        practitioner = self.practitioners[p].pk
                        starts = self._at(day, slot)
                        status = "booked"
                        room = self.rooms[room_index]
                    else:
                        status, practitioner = "planned", None
                if starts:
                    ends = starts + dt.timedelta(minutes=SLOT_MINUTES - 5)
                sessions.add(
                    sid, plan_id, patient_id, number, level, status, proposed, starts, ends,
                    practitioner, completed_at, recorded, recorded, plan_id if recorded else None,
                )  # fmt: skip
                if status == "booked":
                    bookings.add(
                        sid, room.pk, device.pk if device else None, self.desk.pk, created, None
                    )
                    held = ends + dt.timedelta(minutes=5)
                    reservations.add(sid, f"practitioner:{practitioner}", starts, held)
                    reservations.add(sid, f"room:{room.pk}", starts, held)
                    reservations.add(sid, f"patient:{patient_id}", starts, held)
                    self.events.append(
                        (created, self.desk.pk, "create", patient_id, "session", sid)
                    )
                elif status == "completed":
                    completed.append((sid, patient_id, plan_id, area.pk, starts, practitioner))
                    self.events.append(
                        (completed_at, practitioner, "update", patient_id, "session", sid)
                    )
        # The shared devices are named on the booking but not reserved: the generated grid does
        # not plan device use, so a device reservation could overlap (the constraint refuses).
        for copier in (plans, screenings, sessions, bookings, reservations):
            copier.flush()
        self.log(
            f"  plans {plans.rows:,}, sessions {sessions.rows:,}, reservations "
            f"{reservations.rows:,} in {time.monotonic() - t0:.1f} s"
        )
        self._photos(completed)
        self.log(f"  photos done at {time.monotonic() - t0:.1f} s")
        self._audit()
        self.log(f"  audit done at {time.monotonic() - t0:.1f} s")
        self._sequences()
        self.counts = {
            "patients": patients.rows,
            "plans": plans.rows,
            "sessions": sessions.rows,
            "bookings": bookings.rows,
            "reservations": reservations.rows,
            "screenings": screenings.rows,
        } | self.counts
        return self.counts

    def _photos(self, completed: list[tuple]) -> None:
        rng = self.rng
        photos = Copier(
            Photo,
            [
                "id", "public_id", "session_id", "patient_id", "body_area_id", "view", "phase",
                "storage_key", "content_type", "sha256", "size_bytes", "width", "height",
                "captured_at", "uploaded_at", "uploaded_by_id", "consent_portal",
            ],
        )  # fmt: skip
        derivatives = Copier(
            Derivative,
            [
                "photo_id",
                "size",
                "status",
                "storage_key",
                "width",
                "height",
                "size_bytes",
                "version",
            ],
        )
        comparisons = Copier(
            Comparison,
            [
                "patient_id", "plan_id", "body_area_id", "view", "kind", "before_id", "after_id",
                "released_to_portal", "created_at",
            ],
        )  # fmt: skip
        others = [row for row in completed if row[1] not in BENCH_PATIENTS]
        per_session = (self.n_photos - BENCH_PHOTOS) / max(1, len(others))
        photo_id = 0
        first_photo_of_plan: dict[int, tuple[int, int]] = {}
        last_photo_of_plan: dict[int, int] = {}

        def add_photo(session_id, patient_id, plan_id, area_id, starts, by, view, phase):
            nonlocal photo_id
            photo_id += 1
            image = self.images[photo_id % IMAGES]
            public = uuid.UUID(int=rng.getrandbits(128), version=4)
            width, height = image["sizes"][2048][1:3]
            photos.add(
                photo_id, public, session_id, patient_id, area_id, view, phase,
                f"photos/originals/bench/{public.hex}.jpg", "image/jpeg", image["sha256"],
                image["bytes"], width, height, starts, starts, by, True,
            )  # fmt: skip
            for size, (key, w, h, nbytes) in image["sizes"].items():
                derivatives.add(photo_id, size, "ready", key, w, h, nbytes, DERIVATIVE_VERSION)
            if plan_id not in first_photo_of_plan:
                first_photo_of_plan[plan_id] = (photo_id, patient_id, area_id)
            elif view == "frontal":
                last_photo_of_plan[plan_id] = photo_id

        views = ("frontal", "left_45", "right_45", "left_profile", "right_profile")
        for pid, spec in BENCH_PATIENTS.items():
            chart = [row for row in completed if row[1] == pid]
            for index in range(spec[4]):
                row = chart[index % len(chart)]
                view = views[index // len(chart) % 5]
                add_photo(*row, view, "before" if index % 2 else "after")
        budget = self.n_photos - BENCH_PHOTOS
        carry = 0.0
        for row in others:
            carry += per_session
            count = int(carry)
            carry -= count
            for n in range(count):
                if budget <= 0:
                    break
                budget -= 1
                view = "frontal" if n < 2 else views[n % 5]
                add_photo(*row, view, "before" if n % 2 == 0 else "after")
        for plan_id, after_id in last_photo_of_plan.items():
            before_id, patient_id, area_id = first_photo_of_plan[plan_id]
            if after_id != before_id:
                comparisons.add(
                    patient_id, plan_id, area_id, "frontal", "pair", before_id, after_id,
                    plan_id % 3 == 0, self.now,
                )  # fmt: skip
        for copier in (photos, derivatives, comparisons):
            copier.flush()
        self.counts |= {
            "photos": photos.rows,
            "derivatives": derivatives.rows,
            "comparisons": comparisons.rows,
        }

    def _audit(self) -> None:
        """Audit events in time order, chained after the current head, as audit_log does."""
        head = AuditChainHead.objects.filter(pk=1).first()
        prev = head.last_hash if head else GENESIS_HASH
        start_id = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        copier = Copier(
            AuditEvent,
            [
                "id", "occurred_at", "actor_id", "actor_role", "action", "allowed", "patient_id",
                "object_type", "object_id", "ip_address", "detail", "prev_hash", "hash",
            ],
        )  # fmt: skip
        self.events.sort(key=lambda e: e[0])
        roles = {self.desk.pk: "Front desk"}
        event_id = start_id
        for occurred, actor, action, patient_id, object_type, object_id in self.events:
            event_id += 1
            role = roles.get(actor, "Clinician")
            fields = {
                "occurred_at": occurred.astimezone(dt.UTC).isoformat(timespec="microseconds"),
                "actor_id": actor,
                "actor_role": role,
                "action": action,
                "allowed": True,
                "patient_id": patient_id,
                "object_type": object_type,
                "object_id": str(object_id),
                "ip_address": None,
                "detail": "generated",
                "prev_hash": prev,
            }
            digest = audit_hash(fields)
            copier.add(
                event_id, occurred, actor, role, action, True, patient_id, object_type,
                str(object_id), None, "generated", prev, digest,
            )  # fmt: skip
            prev = digest
        copier.flush()
        if copier.rows:
            AuditChainHead.objects.update_or_create(
                pk=1, defaults={"last_event_id": event_id, "last_hash": prev}
            )
        self.counts["audit_events"] = copier.rows
        self.events = []

    def _sequences(self) -> None:
        with connection.cursor() as cursor:
            for model in (Patient, TreatmentPlan, Session, Screening, Photo, AuditEvent):
                table = model._meta.db_table
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                    f'COALESCE((SELECT MAX(id) FROM "{table}"), 1))'
                )
