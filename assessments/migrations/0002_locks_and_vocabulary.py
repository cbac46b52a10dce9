"""After sign-off nothing is edited in place, even by raw SQL: the database refuses any UPDATE
or DELETE of a signed-off assessment or of its sections. The answer history and addenda are
append-only. Also publishes the first form version and the shared risk vocabulary, as data."""

from django.db import migrations

SQL = """
CREATE FUNCTION assessments_signed_off_is_final() RETURNS trigger AS $$
BEGIN
  IF OLD.status = 'signed_off' THEN
    RAISE EXCEPTION 'assessment % is signed off: write an addendum instead', OLD.id
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER assessment_signed_off_is_final
  BEFORE UPDATE OR DELETE ON assessments_assessment
  FOR EACH ROW EXECUTE FUNCTION assessments_signed_off_is_final();

CREATE FUNCTION assessments_section_of_signed_off_is_final() RETURNS trigger AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM assessments_assessment a
             WHERE a.id = OLD.assessment_id AND a.status = 'signed_off') THEN
    RAISE EXCEPTION 'section % belongs to a signed-off assessment: write an addendum instead',
      OLD.id USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER section_of_signed_off_is_final
  BEFORE UPDATE OR DELETE ON assessments_section
  FOR EACH ROW EXECUTE FUNCTION assessments_section_of_signed_off_is_final();

CREATE FUNCTION assessments_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
    USING ERRCODE = 'integrity_constraint_violation';
END $$ LANGUAGE plpgsql;

CREATE TRIGGER answer_change_append_only
  BEFORE UPDATE OR DELETE ON assessments_answerchange
  FOR EACH ROW EXECUTE FUNCTION assessments_append_only();
CREATE TRIGGER addendum_append_only
  BEFORE UPDATE OR DELETE ON assessments_addendum
  FOR EACH ROW EXECUTE FUNCTION assessments_append_only();
"""

REVERSE = """
DROP TRIGGER addendum_append_only ON assessments_addendum;
DROP TRIGGER answer_change_append_only ON assessments_answerchange;
DROP FUNCTION assessments_append_only();
DROP TRIGGER section_of_signed_off_is_final ON assessments_section;
DROP FUNCTION assessments_section_of_signed_off_is_final();
DROP TRIGGER assessment_signed_off_is_final ON assessments_assessment;
DROP FUNCTION assessments_signed_off_is_final();
"""


def publish_first_form_and_risks(apps, schema_editor):
    from assessments.formdata import publish_first_form_and_risks as publish

    publish(apps)


class Migration(migrations.Migration):
    dependencies = [("assessments", "0001_initial")]

    operations = [
        migrations.RunSQL(SQL, REVERSE),
        migrations.RunPython(publish_first_form_and_risks, migrations.RunPython.noop),
    ]
