"""One class per thing a caller can ask of the service."""

from revocation.domain.use_cases.authenticate_token import AuthenticateToken, bearer_token
from revocation.domain.use_cases.internal_issue_token import InternalIssueToken
from revocation.domain.use_cases.internal_logout_all import InternalLogoutAll
from revocation.domain.use_cases.introspect_token import IntrospectToken
from revocation.domain.use_cases.issue_token import IssueToken
from revocation.domain.use_cases.list_sessions import ListSessions
from revocation.domain.use_cases.logout_all_devices import LogoutAllDevices
from revocation.domain.use_cases.logout_token import LogoutToken
from revocation.domain.use_cases.respond_to_replays import RespondToReplays
from revocation.domain.use_cases.revoke_oauth_token import RevokeOAuthToken
from revocation.domain.use_cases.revoke_session import RevokeSession
from revocation.domain.use_cases.session_history import InternalSessionHistory, SessionHistory

__all__ = [
    "AuthenticateToken",
    "InternalIssueToken",
    "InternalLogoutAll",
    "InternalSessionHistory",
    "IntrospectToken",
    "IssueToken",
    "ListSessions",
    "LogoutAllDevices",
    "LogoutToken",
    "RespondToReplays",
    "RevokeOAuthToken",
    "RevokeSession",
    "SessionHistory",
    "bearer_token",
]
