from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core.decorators import role_required
from core.looks import looked_at
from core.views import form_status

from . import services
from .forms import PatientForm
from .models import Patient

SEARCH_LIMIT = 25


@role_required("people.view_patient")
def patient_list(request):
    query = request.GET.get("q", "").replace("\x00", "").strip()  # NUL: PostgreSQL refuses it
    patients = list(Patient.objects.search(query)[:SEARCH_LIMIT]) if query else []
    looked_at(request, many=patients, detail="search")
    template = "people/_patient_results.html" if request.htmx else "people/patient_list.html"
    return render(request, template, {"patients": patients, "query": query})


@role_required("people.add_patient")
def patient_create(request):
    form = PatientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.patient_create(**form.cleaned_data, by=request.user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"{patient.full_name} was added.")
            return redirect(patient)
    return render(request, "people/patient_form.html", {"form": form}, status=form_status(form))


@role_required("people.view_patient")
def patient_detail(request, patient_id: int):
    patient = get_object_or_404(Patient.objects.select_related("user"), pk=patient_id)
    looked_at(request, patient)
    return render(request, "people/patient_detail.html", {"patient": patient})


@role_required("people.change_patient")
def patient_edit(request, patient_id: int):
    patient = get_object_or_404(Patient, pk=patient_id)
    form = PatientForm(request.POST or None, instance=patient)
    if request.method == "POST" and form.is_valid():
        try:
            services.patient_update(patient=patient, **form.cleaned_data, by=request.user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "The patient's details were saved.")
            return redirect(patient)
    looked_at(request, patient, detail="edit form")
    return render(
        request,
        "people/patient_form.html",
        {"form": form, "patient": patient},
        status=form_status(form),
    )


@require_POST
@role_required("people.invite_patient")
def patient_invite(request, patient_id: int):
    patient = get_object_or_404(Patient, pk=patient_id)
    try:
        services.patient_invite(patient=patient, by=request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, "The invitation was emailed to the patient.")
    return redirect(patient)
