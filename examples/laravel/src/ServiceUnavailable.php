<?php

declare(strict_types=1);

namespace Revocation;

/** The service is down or could not decide: answer 503, never let the request through. */
final class ServiceUnavailable extends \RuntimeException
{
}
