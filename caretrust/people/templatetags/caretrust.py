from collections.abc import Iterable

from django import template

from caretrust.people.models import DataClass

register = template.Library()


@register.filter
def data_class_labels(values: Iterable[str]) -> str:
    """["care_plans", "clinical_notes"] -> "Care plans, clinical notes"."""
    labels = [DataClass(v).label.lower() for v in values if v in DataClass.values]
    text = ", ".join(labels)
    return text[:1].upper() + text[1:]
