from django.db import models


class Version(models.Model):
    """A named counter raised after every committed change to some kind of data (see
    core/versions.py), so that what was drawn from that data can be cached under it."""

    name = models.CharField(max_length=40, primary_key=True)
    number = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} version {self.number}"
