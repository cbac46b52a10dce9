"""Rules the database keeps even against raw SQL:

- a basis's status history is append-only;
- no agency group may ever hold a model-level (global) permission: object permissions on
  case files, projected from sharing bases, are the only way an agency sees another's files.
  This also refuses guardian's ``assign_perm(perm, group)`` called without an object.
"""

from django.db import migrations

FORWARD = """
CREATE TRIGGER sharing_status_history_append_only BEFORE UPDATE OR DELETE ON sharing_statuschange
    FOR EACH ROW EXECUTE FUNCTION audit_reject_change();

CREATE FUNCTION reject_agency_group_model_permission() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM directory_agency WHERE group_id = NEW.group_id) THEN
        RAISE EXCEPTION 'agency groups never hold model-level permissions (group %, permission %); '
            'share case files through a sharing basis', NEW.group_id, NEW.permission_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER agency_group_no_model_permissions BEFORE INSERT OR UPDATE ON auth_group_permissions
    FOR EACH ROW EXECUTE FUNCTION reject_agency_group_model_permission();
"""

BACKWARD = """
DROP TRIGGER agency_group_no_model_permissions ON auth_group_permissions;
DROP FUNCTION reject_agency_group_model_permission();
DROP TRIGGER sharing_status_history_append_only ON sharing_statuschange;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("sharing", "0001_initial"),
        ("audit", "0002_append_only"),
        ("directory", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
