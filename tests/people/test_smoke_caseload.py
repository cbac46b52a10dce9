from django.urls import reverse
from django.utils.html import escape


def test_caseload_lists_the_workers_open_files(carol_client, council_file):
    response = carol_client.get(reverse("caseload"))
    assert response.status_code == 200
    assert escape(council_file.person.full_name) in response.content.decode()
