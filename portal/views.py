from django.shortcuts import render

from .access import patient_required


@patient_required
def home(request, patient):
    return render(request, "portal/home.html", {"patient": patient})
