with

source as (

    select * from {{ source('calcom', 'calcom_api_sync_runs') }}

),

renamed as (

    select
        ---------- ids
        sync_run_id,

        ---------- run
        api_version,
        mode as sync_mode,
        status as sync_status,
        pages,
        bookings_seen,
        new_snapshots,
        error as sync_error,

        ---------- timestamps
        started_at,
        finished_at,
        high_water_updated_at,
        high_water_created_at

    from source

)

select * from renamed
