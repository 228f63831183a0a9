"""Availability, booking, rescheduling and cancelling over the API: the same services and
messages as the desk pages."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import RecordsLooks
from core.looks import looked_at
from treatments.models import Session, TreatmentPlan

from . import services
from .availability import find_slots
from .serializers import (
    AvailabilityQuerySerializer,
    AvailabilitySerializer,
    BookedSessionSerializer,
    BookSerializer,
    CancelSerializer,
    CourseBookSerializer,
    RescheduleSerializer,
)


class FrontDesk(permissions.BasePermission):
    message = "Booking is for front-desk staff."

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("people.use_front_desk")


def _out(session: Session, warnings: list[str] | None = None) -> dict:
    session.warnings = warnings or []
    return BookedSessionSerializer(session).data


@extend_schema(tags=["booking"])
class AvailabilityView(APIView):
    permission_classes = [permissions.IsAuthenticated, FrontDesk]

    @extend_schema(parameters=[AvailabilityQuerySerializer], responses=AvailabilitySerializer)
    def get(self, request):
        query = AvailabilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        session = get_object_or_404(
            Session.objects.select_related(
                "plan__modality", "plan__body_area", "depth_level", "patient"
            ),
            pk=data["session"],
        )
        looked_at(request, session, detail="availability")
        slots = find_slots(
            session=session,
            first_day=data["first_day"],
            last_day=data["last_day"],
            practitioner_user_id=data.get("practitioner"),
            mornings_only=data["mornings_only"],
        )
        return Response(AvailabilitySerializer({"session": session, "slots": slots}).data)


@extend_schema(tags=["booking"])
class BookingViewSet(RecordsLooks, viewsets.GenericViewSet):
    """A session's booking: book it, move it, cancel it."""

    permission_classes = [permissions.IsAuthenticated, FrontDesk]
    queryset = Session.objects.select_related("plan__modality", "depth_level", "patient")
    serializer_class = BookedSessionSerializer

    @extend_schema(request=BookSerializer, responses=BookedSessionSerializer)
    @action(detail=True, methods=["post"])
    def book(self, request, pk=None):
        data = self._valid(BookSerializer)
        session = services.session_book(
            session=self.get_object(),
            starts_at=data["starts_at"],
            practitioner_user_id=data["practitioner"],
            by=request.user,
            request=request,
        )
        return Response(_out(session, session.booking_warnings), status=201)

    @extend_schema(request=RescheduleSerializer, responses=BookedSessionSerializer)
    @action(detail=True, methods=["post"])
    def reschedule(self, request, pk=None):
        data = self._valid(RescheduleSerializer)
        session = self.get_object()
        warnings = services.session_reschedule(
            session=session,
            starts_at=data["starts_at"],
            practitioner_user_id=data.get("practitioner"),
            by=request.user,
            request=request,
        )
        session.refresh_from_db()
        return Response(_out(session, warnings))

    @extend_schema(request=CancelSerializer, responses=BookedSessionSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        data = self._valid(CancelSerializer)
        session = services.session_cancel(
            session=self.get_object(),
            cancelled_by=data["cancelled_by"],
            reason=data["reason"],
            by=request.user,
            request=request,
        )
        return Response(_out(session))

    def _valid(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


@extend_schema(tags=["booking"])
class CourseBookingView(APIView):
    permission_classes = [permissions.IsAuthenticated, FrontDesk]

    @extend_schema(request=CourseBookSerializer, responses=BookedSessionSerializer(many=True))
    def post(self, request, plan_id: int):
        plan = get_object_or_404(TreatmentPlan, pk=plan_id)
        looked_at(request, plan, detail="course booking")
        serializer = CourseBookSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        items = serializer.validated_data["sessions"]
        sessions = {s.pk: s for s in plan.sessions.filter(pk__in=[i["session"] for i in items])}
        missing = [i["session"] for i in items if i["session"] not in sessions]
        if missing:
            return Response(
                {"sessions": [f"Session {missing[0]} is not part of this course."]},
                status=400,
            )
        booked = services.course_book(
            plan=plan,
            choices=[
                services.CourseChoice(sessions[i["session"]], i["starts_at"], i["practitioner"])
                for i in items
            ],
            by=request.user,
            request=request,
        )
        return Response([_out(s) for s in booked], status=201)
