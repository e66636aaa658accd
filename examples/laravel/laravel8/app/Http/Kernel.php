<?php

declare(strict_types=1);

namespace App\Http;

use Illuminate\Foundation\Http\Kernel as HttpKernel;

class Kernel extends HttpKernel
{
    /** The wiring line docs/laravel.md shows. */
    protected $routeMiddleware = [
        'revocation' => \Revocation\Laravel\CheckRevocation::class,
    ];
}
