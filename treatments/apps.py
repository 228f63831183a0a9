from django.apps import AppConfig


class TreatmentsConfig(AppConfig):
    name = "treatments"
    verbose_name = "Treatments"

    def ready(self) -> None:
        # A patient's data export holds their signed consent forms, as they download them; an
        # erasure takes the signed names, signatures and addresses.
        from people.erasure import eraser_register
        from people.export import export_files_register

        from .consent_pdf import signed_forms_for_export
        from .consents import consents_erase

        export_files_register(signed_forms_for_export)
        eraser_register(consents_erase)
