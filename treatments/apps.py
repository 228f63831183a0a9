from django.apps import AppConfig


class TreatmentsConfig(AppConfig):
    name = "treatments"
    verbose_name = "Treatments"

    def ready(self):
        # A patient's data export holds their signed consent forms, as the patient downloads them.
        from people.export import export_files_register

        from .consent_pdf import signed_forms_for_export

        export_files_register(signed_forms_for_export)
