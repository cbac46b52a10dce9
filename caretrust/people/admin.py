"""People, carers and case files are not in the Django admin, on purpose.

The admin is for the platform's superusers, who act for no agency, and the visibility rule
gives an agency-less user nothing: an admin list of people would be a second way to people's
data that the rule does not govern. Staff reach people's data in the app, through the rule;
operators have the management commands (``verify_audit``, ``run_sharing_jobs``) and the
directory, partner-client and sharing-governance pages of the admin.
"""
