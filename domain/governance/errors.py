from domain.errors import Conflict, NotFound, ValidationFailed, register


@register
class CommitteeNotFound(NotFound):
    code = "governance.committee_not_found"
    title = "Committee not found"


@register
class PolicyNotFound(NotFound):
    code = "governance.policy_not_found"
    title = "Policy not found"


@register
class ApprovalProcessNotFound(NotFound):
    code = "governance.approval_process_not_found"
    title = "Approval process not found"


@register
class CommitteeNameTaken(Conflict):
    code = "governance.committee_name_taken"
    title = "A committee with this name exists"


@register
class CommitteeMustHaveAtLeastOneMember(ValidationFailed):
    code = "governance.committee_must_have_at_least_one_member"
    title = "A committee needs at least one member"


@register
class CannotRemoveLastMember(Conflict):
    code = "governance.cannot_remove_last_member"
    title = "The last member of a committee cannot be removed"


@register
class InvalidThreshold(ValidationFailed):
    code = "governance.invalid_threshold"
    title = "Invalid approval threshold"


@register
class AutoApproveNotAllowed(Conflict):
    code = "governance.auto_approve_not_allowed"
    title = "Auto-approval is disabled"


@register
class NotEligibleVoter(Conflict):
    code = "governance.not_eligible_voter"
    title = "Not an eligible voter"


@register
class AlreadyVoted(Conflict):
    code = "governance.already_voted"
    title = "Already voted"


@register
class AlreadyConcluded(Conflict):
    code = "governance.already_concluded"
    title = "Approval process already concluded"


@register
class ApprovalProcessCancelled(Conflict):
    code = "governance.approval_process_cancelled"
    title = "Approval process cancelled: its subject ended"


@register
class DenyReasonRequired(ValidationFailed):
    code = "governance.deny_reason_required"
    title = "A deny vote needs a reason"


@register
class UserNotFound(ValidationFailed):
    code = "governance.user_not_found"
    title = "Committee member is not a known user"
