"""The Authorization header in, a Principal out: `Bearer cohort_...` is an API token, a JWT typed
`cohort-embed+jwt` an embed token (api/embed/tokens.py), any other bearer token a JWT."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from api.auth.api_tokens import ApiTokenStore
from api.auth.errors import AuthenticationError, no_credentials
from api.auth.jwt_verifier import JwtVerifier
from api.auth.token_format import PREFIX
from api.embed.tokens import EmbedTokens, is_embed_token
from api.settings import Settings
from authz.audit import Audit
from authz.principal import Principal


class Authenticator:
    def __init__(self, jwt: JwtVerifier, tokens: ApiTokenStore, embed: EmbedTokens | None = None) -> None:
        self.jwt = jwt
        self.tokens = tokens
        self.embed = embed

    @classmethod
    def from_settings(
        cls, settings: Settings, engine: AsyncEngine, audit: Audit | None = None
    ) -> Authenticator:
        """Reads the key files (or creates the development secrets) now: call it at start-up, so
        that a bad key configuration stops the server instead of failing every request."""
        tokens = ApiTokenStore(engine, timeouts=settings.database_timeouts)
        embed = EmbedTokens.from_settings(settings.embed, settings.data_dir, audit)
        return cls(JwtVerifier(settings.auth, settings.data_dir), tokens, embed)

    async def authenticate(self, authorization_header: str | None) -> Principal:
        if authorization_header is None or not authorization_header.strip():
            raise no_credentials()
        scheme, *tokens = authorization_header.split()
        if scheme.lower() != "bearer":
            # Other schemes are not bearer credentials: RFC 6750 answers with the bare challenge.
            raise no_credentials("use the Bearer scheme: Authorization: Bearer <token>")
        if len(tokens) != 1:
            raise AuthenticationError(
                "the Authorization header must hold exactly one bearer token", error="invalid_request"
            )
        token = tokens[0]
        if token.startswith(PREFIX):
            return await self.tokens.verify(token)
        if self.embed is not None and is_embed_token(token):
            return self.embed.verify(token)
        return self.jwt.verify(token)
