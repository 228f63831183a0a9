from django.contrib.auth.tokens import PasswordResetTokenGenerator


class InviteTokenGenerator(PasswordResetTokenGenerator):
    """Single use and expiring (PASSWORD_RESET_TIMEOUT): the token is bound to the password
    hash and last sign-in, so it stops working once the patient has set a password.
    A salt of its own keeps invite and password-reset tokens apart."""

    key_salt = "people.tokens.InviteTokenGenerator"


invite_token_generator = InviteTokenGenerator()
