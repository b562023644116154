"""Request and response bodies of the auth API."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class LoginResponse(BaseModel):
    token: str
    role: str
    name: str
    username: str
    languages: list[str]


class UserOut(BaseModel):
    id: int
    username: str
    name: str
    role: str
    languages: list[str]
    active: bool = True


class UpdateUserRequest(BaseModel):
    """``PATCH /api/users/{id}``: only the fields given change."""

    active: bool | None = None
    role: str | None = Field(None, pattern="^(agent|admin|editor)$")
    languages: list[str] | None = Field(None, max_length=20)
    name: str | None = Field(None, min_length=1, max_length=120)


class CreateUserRequest(BaseModel):
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=8, max_length=256)
    role: str = Field("agent", pattern="^(agent|admin|editor)$")
    languages: list[str] = Field(default_factory=list, max_length=20)
    name: str | None = Field(None, max_length=120)


class ChangePasswordRequest(BaseModel):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=8, max_length=256)


class PasswordRequest(BaseModel):
    """``POST /api/users/{id}/password`` (admin): the user's new password."""

    password: str = Field(min_length=8, max_length=256)
