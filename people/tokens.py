from django.contrib.auth.tokens import PasswordResetTokenGenerator


class InviteTokenGenerator(PasswordResetTokenGenerator):
    """Single use and expiring (PASSWORD_RESET_TIMEOUT): the token is bound to the password
    hash and last sign-in, so it stops working once the patient has set a password.
    A salt of its own keeps invite and password-reset tokens apart."""

    key_salt = "people.tokens.InviteTokenGenerator"


invite_token_generator = InviteTokenGenerator()


class SignupTokenGenerator(PasswordResetTokenGenerator):
    """The link that verifies a sign-up's email address: expiring (PASSWORD_RESET_TIMEOUT),
    with a salt of its own, and bound to the account being inactive, so it works once."""

    key_salt = "people.tokens.SignupTokenGenerator"

    def _make_hash_value(self, user, timestamp):
        return f"{super()._make_hash_value(user, timestamp)}{user.is_active}"


signup_token_generator = SignupTokenGenerator()
