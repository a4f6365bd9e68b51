// @generated automatically by Diesel CLI.

diesel::table! {
    agents (agent_id) {
        agent_id -> Text,
        container_id -> Text,
        tmux_socket -> Text,
        tmux_session -> Text,
        tmux_pane_id -> Text,
        role -> Text,
        capability -> Text,
        label -> Text,
        origin -> Text,
        registered -> Bool,
        log_path -> Nullable<Text>,
        log_attached -> Bool,
        created_at -> Text,
        updated_at -> Text,
        tmux_server -> Nullable<Text>,
        activity -> Text,
        activity_source -> Nullable<Text>,
        activity_since -> Nullable<Text>,
        activity_message -> Nullable<Text>,
        reported_at -> Nullable<Text>,
        pane_pid -> Nullable<Integer>,
    }
}

diesel::table! {
    containers (id) {
        id -> Text,
        name -> Text,
        runtime -> Text,
        state -> Text,
        user -> Nullable<Text>,
        labels -> Text,
        last_seen -> Text,
    }
}

diesel::table! {
    lifecycle_event (sequence) {
        sequence -> Integer,
        event_id -> Text,
        timestamp -> Text,
        event_type -> Text,
        layout_id -> Nullable<Text>,
        pane_id -> Nullable<Text>,
        container_id -> Nullable<Text>,
        actor -> Text,
        payload -> Text,
    }
}

diesel::table! {
    managed_layout (id) {
        id -> Text,
        container_id -> Text,
        template_name -> Text,
        tmux_session_name -> Text,
        intended_pane_count -> Integer,
        ready_pane_count -> Integer,
        state -> Text,
        failed_stage -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        created_at -> Text,
        updated_at -> Text,
        state_rank -> Integer,
    }
}

diesel::table! {
    managed_pane (id) {
        id -> Text,
        layout_id -> Text,
        container_id -> Text,
        agent_id -> Nullable<Text>,
        role -> Text,
        capability -> Text,
        label -> Text,
        launch_command_ref -> Nullable<Text>,
        tmux_session_name -> Text,
        tmux_pane_index -> Integer,
        tmux_pane_id -> Nullable<Text>,
        pending_marker_token -> Nullable<Text>,
        state -> Text,
        failed_stage -> Nullable<Text>,
        failure_reason -> Nullable<Text>,
        predecessor_id -> Nullable<Text>,
        chain_depth -> Integer,
        log_path -> Nullable<Text>,
        created_at -> Text,
        updated_at -> Text,
        state_rank -> Integer,
        recreate_idempotency_key -> Nullable<Text>,
    }
}

diesel::table! {
    routes (route_id) {
        route_id -> Text,
        source_agent_id -> Text,
        target_agent_id -> Text,
        created_at -> Text,
    }
}

diesel::joinable!(agents -> containers (container_id));
diesel::joinable!(managed_layout -> containers (container_id));
diesel::joinable!(managed_pane -> agents (agent_id));
diesel::joinable!(managed_pane -> containers (container_id));
diesel::joinable!(managed_pane -> managed_layout (layout_id));

diesel::allow_tables_to_appear_in_same_query!(
    agents,
    containers,
    lifecycle_event,
    managed_layout,
    managed_pane,
    routes,
);
