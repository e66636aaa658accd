<?php

declare(strict_types=1);

namespace Revocation;

/** The token is missing, invalid, expired or revoked: answer 401. */
final class TokenRefused extends \RuntimeException
{
}
