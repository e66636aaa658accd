<?php

declare(strict_types=1);

// A plain PHP app whose every route is behind RevocationMiddleware
// (php -S 127.0.0.1:8080 public/index.php). Settings come from the environment.

require __DIR__ . '/../src/autoload.php';

use Revocation\RevocationGuard;
use Revocation\RevocationMiddleware;

$guard = new RevocationGuard(
    getenv('REVOCATION_URL') ?: 'http://127.0.0.1:8000',
    getenv('REVOCATION_GUARD') ?: RevocationGuard::VERIFY,
    getenv('REVOCATION_APP_ID') ?: '',
    getenv('REVOCATION_APP_KEY') ?: '',
);
(new RevocationMiddleware($guard))->handle(
    $_SERVER['HTTP_AUTHORIZATION'] ?? null,
    function (array $identity): void {
        header('Content-Type: application/json');
        echo json_encode([
            'user_id' => $identity['user_id'],
            'path' => $_SERVER['REQUEST_URI'],
            'body' => file_get_contents('php://input'),
        ]);
    },
);
